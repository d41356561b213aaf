//! Typed ids, so a case id can never be passed where a post id is expected.

macro_rules! ids {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

ids! {
    /// Id of an [`Institution`](crate::Institution).
    InstitutionId,
    /// Id of an [`Account`](crate::Account).
    AccountId,
    /// Id of a [`Contact`](crate::Contact).
    ContactId,
    /// Id of a [`Post`](crate::Post).
    PostId,
    /// Id of a [`Case`](crate::Case).
    CaseId,
    /// Id of a [`Team`](crate::Team).
    TeamId,
    /// Id of a [`User`](crate::User).
    UserId,
    /// Id of an [`AuditEvent`](crate::AuditEvent).
    AuditEventId,
    /// Id of a queued job.
    JobId,
    /// Id of a [`Reply`](crate::reply::Reply) in the outbox.
    ReplyId,
}
