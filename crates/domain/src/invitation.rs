//! Invitations of people, by email, into an organization with a set of
//! roles. An invitation starts `pending` and ends exactly once: `accepted`
//! or `declined` by the invitee (who proves it with the invitation's token),
//! or `revoked` by an operator. A pending invitation past its `expires_at`
//! can no longer be answered, only revoked or deleted.

use crate::oauth::SecretDigest;
use crate::organization::{DuplicateRole, distinct_roles};
use crate::user::Email;
use crate::{EnvironmentId, InvitationId, OrganizationId, RoleId, Timestamp, UserId};

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvitationStatus {
    /// Waiting for the invitee (possibly expired: see [`Invitation::is_expired`]).
    Pending,
    /// The invitee joined the organization.
    Accepted,
    /// The invitee said no.
    Declined,
    /// An operator withdrew it.
    Revoked,
}

/// A status name that is not one of the four.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown invitation status `{0}`")]
pub struct UnknownInvitationStatus(pub String);

impl InvitationStatus {
    /// Every status, in the order of the state machine.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Accepted, Self::Declined, Self::Revoked];

    /// The name the API shows and the store keeps.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
        }
    }

    /// Parses a status name (exact, lower case).
    ///
    /// # Errors
    /// [`UnknownInvitationStatus`] for any other text.
    pub fn parse(raw: &str) -> Result<Self, UnknownInvitationStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or_else(|| UnknownInvitationStatus(raw.to_owned()))
    }
}

/// Why an invitation cannot make a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvitationStateError {
    /// It was already answered or revoked.
    #[error("the invitation is {} and no longer pending", .0.as_str())]
    NotPending(InvitationStatus),
    /// It is pending but past its `expires_at`.
    #[error("the invitation has expired")]
    Expired,
}

/// An invitation into an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Identity.
    pub id: InvitationId,
    /// The environment of the organization and the roles.
    pub environment_id: EnvironmentId,
    /// The organization the invitee joins.
    pub organization_id: OrganizationId,
    /// Who is invited (normalised like a user's email).
    pub email: Email,
    /// Roles the membership will hold: distinct, in the order given.
    pub role_ids: Vec<RoleId>,
    /// Where it stands.
    pub status: InvitationStatus,
    /// SHA-256 of the token handed to the invitee; the token itself is
    /// never kept.
    pub token_digest: SecretDigest,
    /// After this instant a pending invitation can no longer be answered.
    pub expires_at: Timestamp,
    /// The user who accepted it, once accepted (and while that user exists).
    pub user_id: Option<UserId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Time of the last transition.
    pub updated_at: Timestamp,
}

/// A stored invitation whose fields contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invitation {0} is inconsistent")]
pub struct InvitationRecordError(pub InvitationId);

/// What an invitation is made of, before it exists.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The invitee.
    pub email: Email,
    /// The roles to hold.
    pub role_ids: Vec<RoleId>,
    /// Digest of the generated token.
    pub token_digest: SecretDigest,
    /// When it stops being answerable.
    pub expires_at: Timestamp,
}

impl Invitation {
    /// Issues a pending invitation.
    ///
    /// # Errors
    /// [`DuplicateRole`] when a role is listed twice.
    pub fn issue(
        id: InvitationId,
        environment_id: EnvironmentId,
        new: NewInvitation,
        now: Timestamp,
    ) -> Result<Self, DuplicateRole> {
        distinct_roles(&new.role_ids)?;
        Ok(Self {
            id,
            environment_id,
            organization_id: new.organization_id,
            email: new.email,
            role_ids: new.role_ids,
            status: InvitationStatus::Pending,
            token_digest: new.token_digest,
            expires_at: new.expires_at,
            user_id: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Rebuilds a stored invitation, re-checking its invariants: times in
    /// order, roles distinct, and an accepting user only on an accepted one.
    ///
    /// # Errors
    /// [`InvitationRecordError`].
    pub fn from_parts(parts: Self) -> Result<Self, InvitationRecordError> {
        let user_fits = parts.user_id.is_none() || parts.status == InvitationStatus::Accepted;
        if parts.updated_at < parts.created_at
            || distinct_roles(&parts.role_ids).is_err()
            || !user_fits
        {
            return Err(InvitationRecordError(parts.id));
        }
        Ok(parts)
    }

    /// Whether a pending invitation can no longer be answered at `now`.
    #[must_use]
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    fn answerable(&self, now: Timestamp) -> Result<(), InvitationStateError> {
        if self.status != InvitationStatus::Pending {
            return Err(InvitationStateError::NotPending(self.status));
        }
        if self.is_expired(now) {
            return Err(InvitationStateError::Expired);
        }
        Ok(())
    }

    fn settle(&mut self, status: InvitationStatus, now: Timestamp) {
        self.status = status;
        self.updated_at = now.max(self.created_at);
    }

    /// The invitee, now `user_id`, joined.
    ///
    /// # Errors
    /// [`InvitationStateError`]: not pending (checked first), or expired.
    /// Nothing changes then.
    pub fn accept(&mut self, user_id: UserId, now: Timestamp) -> Result<(), InvitationStateError> {
        self.answerable(now)?;
        self.user_id = Some(user_id);
        self.settle(InvitationStatus::Accepted, now);
        Ok(())
    }

    /// Checks that the invitation could be accepted at `now`, without
    /// changing it (to refuse early, before any other work).
    ///
    /// # Errors
    /// As [`Invitation::accept`].
    pub fn check_answerable(&self, now: Timestamp) -> Result<(), InvitationStateError> {
        self.answerable(now)
    }

    /// The invitee said no.
    ///
    /// # Errors
    /// [`InvitationStateError`]: not pending (checked first), or expired.
    pub fn decline(&mut self, now: Timestamp) -> Result<(), InvitationStateError> {
        self.answerable(now)?;
        self.settle(InvitationStatus::Declined, now);
        Ok(())
    }

    /// An operator withdraws a pending invitation, expired or not.
    ///
    /// # Errors
    /// [`InvitationStateError::NotPending`] when it was already answered or
    /// revoked.
    pub fn revoke(&mut self, now: Timestamp) -> Result<(), InvitationStateError> {
        if self.status != InvitationStatus::Pending {
            return Err(InvitationStateError::NotPending(self.status));
        }
        self.settle(InvitationStatus::Revoked, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).unwrap()
    }

    fn role(n: u128) -> RoleId {
        RoleId::from_ulid(Ulid::from_parts(1, n))
    }

    fn user() -> UserId {
        UserId::from_ulid(Ulid::from_parts(1, 9))
    }

    fn invitation(roles: Vec<RoleId>) -> Result<Invitation, DuplicateRole> {
        Invitation::issue(
            InvitationId::from_ulid(Ulid::from_parts(1, 1)),
            EnvironmentId::from_ulid(Ulid::from_parts(1, 2)),
            NewInvitation {
                organization_id: OrganizationId::from_ulid(Ulid::from_parts(1, 3)),
                email: Email::parse("Ann@Example.com").unwrap(),
                role_ids: roles,
                token_digest: SecretDigest::new("ab".repeat(32)),
                expires_at: at(100),
            },
            at(10),
        )
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for status in InvitationStatus::ALL {
            assert_eq!(InvitationStatus::parse(status.as_str()), Ok(status));
        }
        assert!(InvitationStatus::parse("Pending").is_err());
        assert!(InvitationStatus::parse("expired").is_err());
    }

    #[test]
    fn a_new_invitation_is_pending_with_distinct_roles() {
        assert_eq!(
            invitation(vec![role(1), role(1)]),
            Err(DuplicateRole { index: 1 })
        );
        let invitation = invitation(vec![role(1), role(2)]).unwrap();
        assert_eq!(invitation.status, InvitationStatus::Pending);
        assert_eq!(invitation.email.as_str(), "ann@example.com");
        assert_eq!(invitation.user_id, None);
    }

    #[test]
    fn accept_records_the_user_once_and_only_before_expiry() {
        let mut open = invitation(vec![]).unwrap();
        open.accept(user(), at(99)).unwrap();
        assert_eq!(open.status, InvitationStatus::Accepted);
        assert_eq!(open.user_id, Some(user()));
        assert_eq!(open.updated_at, at(99));
        assert_eq!(
            open.accept(user(), at(99)),
            Err(InvitationStateError::NotPending(InvitationStatus::Accepted))
        );

        let mut late = invitation(vec![]).unwrap();
        assert!(!late.is_expired(at(99)));
        assert!(late.is_expired(at(100)));
        assert_eq!(
            late.accept(user(), at(100)),
            Err(InvitationStateError::Expired)
        );
        assert_eq!(late.status, InvitationStatus::Pending, "unchanged");
        assert_eq!(late.user_id, None);
    }

    #[test]
    fn not_pending_is_reported_before_expired() {
        let mut declined = invitation(vec![]).unwrap();
        declined.decline(at(50)).unwrap();
        assert_eq!(
            declined.check_answerable(at(500)),
            Err(InvitationStateError::NotPending(InvitationStatus::Declined))
        );
        assert_eq!(
            declined.revoke(at(60)),
            Err(InvitationStateError::NotPending(InvitationStatus::Declined))
        );
    }

    #[test]
    fn an_expired_pending_invitation_can_still_be_revoked() {
        let mut late = invitation(vec![]).unwrap();
        assert_eq!(late.decline(at(200)), Err(InvitationStateError::Expired));
        late.revoke(at(200)).unwrap();
        assert_eq!(late.status, InvitationStatus::Revoked);
        assert_eq!(
            late.revoke(at(201)),
            Err(InvitationStateError::NotPending(InvitationStatus::Revoked))
        );
    }

    #[test]
    fn from_parts_refuses_contradictions() {
        let good = invitation(vec![role(1)]).unwrap();
        assert!(Invitation::from_parts(good.clone()).is_ok());
        let mut early = good.clone();
        early.updated_at = at(1);
        assert!(Invitation::from_parts(early).is_err());
        let mut twice = good.clone();
        twice.role_ids = vec![role(1), role(1)];
        assert!(Invitation::from_parts(twice).is_err());
        let mut pending_with_user = good;
        pending_with_user.user_id = Some(user());
        assert!(Invitation::from_parts(pending_with_user).is_err());
    }
}
