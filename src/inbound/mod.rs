//! The inbound side: from the queue's message to a trusted sender and the lists they sent.
//!
//! [`notification`] decodes the S3 upload notification (SNS-wrapped or raw); [`email`] reads the
//! stored MIME message (sender, attachments, the attendee lists); [`authenticity`] decides from
//! SES's `Authentication-Results` ([`auth_results`] parses them) whether the sender is who the
//! `From:` says. All of it is pure: bytes in, plain data out.

pub mod auth_results;
pub mod authenticity;
pub mod email;
pub mod notification;
