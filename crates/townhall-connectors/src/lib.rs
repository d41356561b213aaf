//! Townhall's platform connectors: for each platform, wire types that mirror its
//! documented format exactly, and one mapping from them into `townhall-core`'s
//! `NewPost`, `NewContact` and accounts, shared by file import and live listening.
//!
//! It never touches the database. The connectors arrive with the "Listen" issue.
