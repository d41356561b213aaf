//! The `townhall` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    townhall::main()
}
