//! The vocabulary every part of a request shares, as types that can only hold valid,
//! normalized values ("parse, don't validate").
//!
//! Once a string has become an [`AttendeeEmail`], [`SenderEmail`] or [`EventUid`], the rest of
//! the code never re-checks it and cannot pass one where another is expected. [`address`]:
//! organizer and attendee addresses; [`uid`]: event uids; [`name`]: attendee names; [`row`]:
//! where a row is; [`reason`]: why a row was not sent; [`event`]: an event as a request needs it;
//! [`request`]: what names a request (its subject and Message-ID).
//! All of it is pure.

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The normalized value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub mod address;
pub mod event;
pub mod name;
pub mod reason;
pub mod request;
pub mod row;
pub mod uid;

pub use address::{AttendeeEmail, InvalidEmail, SenderEmail};
pub use event::{EventInfo, EventRecord};
pub use name::AttendeeName;
pub use reason::{Reason, ReasonKind};
pub use request::{MessageId, RequestRef};
pub use row::RowPosition;
pub use uid::{EventUid, InvalidUid, uid_words};
