//! The durable queue's job statuses and kinds.

use super::stored::stored_enum;

stored_enum! {
    /// Where a job stands.
    JobStatus {
        /// Waiting for its `run_at` (a first run, or a retry after a failed attempt).
        Queued => "queued",
        /// Claimed by a worker under a lease.
        Running => "running",
        /// Failed its last allowed attempt; kept with its last error until retried by hand.
        Dead => "dead",
    }
}

stored_enum! {
    /// What a job does.
    JobKind {
        /// One unattended (or app-requested) sync of one connection.
        Sync => "sync",
        /// The minute's sweep: consents that ended, journeys a crash interrupted, raw answers
        /// past their retention.
        Sweep => "sweep",
        /// Webhook deliveries of one endpoint's lane (a connection), in order.
        Deliver => "deliver",
        /// Following one payment at its bank until a final status (and confirming it once the
        /// user approved, where the bank waits for that).
        PaymentPoll => "payment_poll",
    }
}
