//! The invitations collection: invite an e-mail address into an
//! organization with a set of roles, read, list, revoke and delete; and the
//! invitee's answers, accept and decline, proved with the token handed out
//! once at creation (only its SHA-256 digest is kept).
//!
//! Accepting creates the user when no user has the address yet, the
//! membership with the invitation's roles, and marks the invitation
//! accepted, with their events, in one transaction that holds the
//! invitation's row lock: of two concurrent accepts one wins, the other
//! sees an accepted invitation (`NotPending`).

use portcullis_domain::invitation::{
    Invitation, InvitationStateError, InvitationStatus, NewInvitation,
};
use portcullis_domain::organization::{DuplicateRole, Membership};
use portcullis_domain::user::{Email, NewUser, User};
use portcullis_domain::{InvitationId, MembershipId, OrganizationId, RoleId, UserId};
use portcullis_ports::crypto::CryptoError;
use portcullis_ports::store::{
    InvitationQuery, Keyset, MembershipQuery, StoreError, Tx, Unique, UnitOfWork,
};
use secrecy::{ExposeSecret, SecretString};

use crate::Ports;
use crate::memberships::first_unknown_role;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
use crate::users::{email_violation, parse_name, parse_password};
pub use crate::validation::FieldViolation;
use crate::validation::{Lifetimes, parse_expiry};

/// The actor named in the events of the invitee's answers.
pub const INVITEE_ACTOR: &str = "invitee";

/// How long invitations stay answerable.
pub type InvitationLimits = Lifetimes;

/// A new invitation as the caller sent it; values are checked by the service.
#[derive(Debug, Clone)]
pub struct CreateInvitation {
    /// The organization (already a parsed id).
    pub organization: OrganizationId,
    /// The invitee's address.
    pub email: String,
    /// Roles the membership will hold, in the order given.
    pub roles: Vec<RoleId>,
    /// RFC 3339 end of the answerable window; the default lifetime when absent.
    pub expires_at: Option<String>,
}

/// A created invitation and its token, which exists only here.
#[derive(Debug)]
pub struct IssuedInvitation {
    /// The stored invitation.
    pub invitation: Invitation,
    /// The token for the invitee: shown once, never stored.
    pub token: SecretString,
}

/// Why an invitation was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateInvitationError {
    /// Attribute values that break rules.
    #[error("invalid invitation")]
    Invalid(Vec<FieldViolation>),
    /// No such organization in the environment.
    #[error("organization not found in this environment")]
    UnknownOrganization,
    /// The role at this index of the list is not of the environment.
    #[error("role {0} of the list not found in this environment")]
    UnknownRole(usize),
    /// The role at this index of the list is listed before.
    #[error("role {0} of the list is listed twice")]
    DuplicateRole(usize),
    /// A user with the address is already a member of the organization.
    #[error("a user with this e-mail is already a member of the organization")]
    AlreadyMember,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an invitation could not be read, revoked or deleted.
#[derive(Debug, thiserror::Error)]
pub enum InvitationLookupError {
    /// No such invitation in the environment.
    #[error("invitation not found")]
    NotFound,
    /// It is no longer pending (revoke only).
    #[error("the invitation is {} and no longer pending", .0.as_str())]
    NotPending(InvitationStatus),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The invitee's acceptance.
#[derive(Debug)]
pub struct AcceptInvitation {
    /// The token from the invitation.
    pub token: SecretString,
    /// Given name, for a user created by the acceptance.
    pub first_name: Option<String>,
    /// Family name, for a user created by the acceptance.
    pub last_name: Option<String>,
    /// Password, for a user created by the acceptance.
    pub password: Option<SecretString>,
    /// Its confirmation.
    pub password_confirmation: Option<SecretString>,
}

/// What an acceptance did.
#[derive(Debug, Clone)]
pub struct AcceptedInvitation {
    /// The invitation, now accepted.
    pub invitation: Invitation,
    /// The member: created by this acceptance when `user_created`.
    pub user: User,
    /// Whether the acceptance created the user.
    pub user_created: bool,
    /// The new membership.
    pub membership: Membership,
}

/// Why an answer (accept or decline) was refused. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum AnswerInvitationError {
    /// Profile values that break rules (accept only).
    #[error("invalid acceptance")]
    Invalid(Vec<FieldViolation>),
    /// No such invitation, or the token does not match: the two are not told
    /// apart.
    #[error("invitation not found")]
    NotFound,
    /// It was already answered or revoked.
    #[error("the invitation is {} and no longer pending", .0.as_str())]
    NotPending(InvitationStatus),
    /// It is pending but expired.
    #[error("the invitation has expired")]
    Expired,
    /// The address belongs to a blocked user.
    #[error("the invited user is blocked")]
    UserBlocked,
    /// The user is already a member of the organization.
    #[error("the user is already a member of the organization")]
    AlreadyMember,
    /// A user with the address was created concurrently; a retry finds it.
    #[error("a user with this e-mail was created concurrently")]
    UserRace,
    /// Hashing the password failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InvitationStateError> for AnswerInvitationError {
    fn from(error: InvitationStateError) -> Self {
        match error {
            InvitationStateError::NotPending(status) => Self::NotPending(status),
            InvitationStateError::Expired => Self::Expired,
        }
    }
}

/// Filters of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationFilter {
    /// Only the invitations into this organization.
    pub organization: Option<OrganizationId>,
    /// Only the invitations in this status.
    pub status: Option<InvitationStatus>,
    /// Only the invitations of this address.
    pub email: Option<Email>,
}

/// Whether `user` is a member of `organization`.
fn is_member(
    tx: &mut dyn Tx,
    env: portcullis_domain::EnvironmentId,
    organization: OrganizationId,
    user: UserId,
) -> Result<bool, StoreError> {
    let query = MembershipQuery {
        organization: Some(organization),
        user: Some(user),
        page: Keyset {
            limit: 1,
            descending: false,
            after: None,
        },
    };
    Ok(!tx.list_memberships(env, &query)?.is_empty())
}

/// The invitations collection and the invitee's answers.
pub struct InvitationService<U> {
    ports: Ports<U>,
    limits: InvitationLimits,
}

impl<U> std::fmt::Debug for InvitationService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationService")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> InvitationService<U> {
    /// A service on `ports` with `limits`.
    pub fn new(ports: Ports<U>, limits: InvitationLimits) -> Self {
        Self { ports, limits }
    }

    /// Invites an address into an organization; the token is returned here
    /// and never again.
    ///
    /// # Errors
    /// [`CreateInvitationError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateInvitation,
    ) -> Result<IssuedInvitation, CreateInvitationError> {
        let now = self.ports.clock.now();
        let mut violations = Vec::new();
        let email = Email::parse(&command.email)
            .map_err(|e| violations.push(email_violation(&e)))
            .ok();
        let expires_at = match command.expires_at.as_deref() {
            Some(raw) => parse_expiry(raw, now, self.limits.max_ttl_seconds, &mut violations),
            None => Some(now.plus_seconds(self.limits.default_ttl_seconds)),
        };
        let (Some(email), Some(expires_at), true) = (email, expires_at, violations.is_empty())
        else {
            return Err(CreateInvitationError::Invalid(violations));
        };
        let token = self.ports.secrets.generate_secret();
        let env = actor.environment_id();
        let invitation = Invitation::issue(
            InvitationId::from_ulid(self.ports.ids.next_ulid()),
            env,
            NewInvitation {
                organization_id: command.organization,
                email,
                role_ids: command.roles,
                token_digest: self.ports.secrets.digest_secret(token.expose_secret()),
                expires_at,
            },
            now,
        )
        .map_err(|DuplicateRole { index }| CreateInvitationError::DuplicateRole(index))?;
        let event = self.ports.event(
            actor,
            "invitation.created",
            &representation::invitation(&invitation),
        );
        let stored = invitation.clone();
        self.ports
            .store
            .transaction(move |tx| {
                if tx.find_organization(env, stored.organization_id)?.is_none() {
                    return Err(CreateInvitationError::UnknownOrganization);
                }
                if let Some(index) = first_unknown_role(tx, env, &stored.role_ids)? {
                    return Err(CreateInvitationError::UnknownRole(index));
                }
                if let Some(user) = tx.find_user_by_email(env, &stored.email)?
                    && is_member(tx, env, stored.organization_id, user.id())?
                {
                    return Err(CreateInvitationError::AlreadyMember);
                }
                tx.insert_invitation(&stored)?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(IssuedInvitation { invitation, token })
    }

    /// One invitation.
    ///
    /// # Errors
    /// [`InvitationLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> Result<Invitation, InvitationLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_invitation(env, id))
            .await?
            .ok_or(InvitationLookupError::NotFound)
    }

    /// One page of invitations, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: InvitationFilter,
        page: PageParams,
    ) -> Result<Page<Invitation>, StoreError> {
        let env = actor.environment_id();
        let query = InvitationQuery {
            organization: filter.organization,
            status: filter.status,
            email: filter.email,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_invitations(env, &query))
            .await?;
        Ok(page.page(rows, |invitation| invitation.id.to_string()))
    }

    /// Withdraws a pending invitation (expired or not).
    ///
    /// # Errors
    /// [`InvitationLookupError`]: `NotPending` once it was answered or revoked.
    pub async fn revoke(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> Result<Invitation, InvitationLookupError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut invitation = tx
                    .lock_invitation(env, id)?
                    .ok_or(InvitationLookupError::NotFound)?;
                invitation.revoke(now).map_err(|error| match error {
                    InvitationStateError::NotPending(status) => {
                        InvitationLookupError::NotPending(status)
                    }
                    // Revoking never looks at the expiry.
                    InvitationStateError::Expired => InvitationLookupError::NotFound,
                })?;
                tx.update_invitation_status(&invitation)?;
                tx.append_event(&ports.event(
                    &actor,
                    "invitation.revoked",
                    &representation::invitation(&invitation),
                ))?;
                Ok(invitation)
            })
            .await
    }

    /// Deletes an invitation, whatever its status.
    ///
    /// # Errors
    /// [`InvitationLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> Result<(), InvitationLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "invitation.deleted",
                move |tx| tx.find_invitation(env, id),
                move |tx| tx.delete_invitation(env, id),
                representation::invitation,
                || InvitationLookupError::NotFound,
            )
            .await
    }

    /// The invitation `id` if `token` is its token: a wrong token and an
    /// unknown id are the same `NotFound`.
    fn proven(
        &self,
        found: Option<Invitation>,
        token: &SecretString,
    ) -> Result<Invitation, AnswerInvitationError> {
        found
            .filter(|invitation| {
                self.ports
                    .secrets
                    .verify_secret(token.expose_secret(), &invitation.token_digest)
            })
            .ok_or(AnswerInvitationError::NotFound)
    }

    /// The invitee accepts, in the environment `env` (the caller proves
    /// nothing but the token).
    ///
    /// # Errors
    /// [`AnswerInvitationError`]; nothing changes then.
    pub async fn accept(
        &self,
        env: portcullis_domain::EnvironmentId,
        id: InvitationId,
        command: AcceptInvitation,
    ) -> Result<AcceptedInvitation, AnswerInvitationError> {
        let mut violations = Vec::new();
        let first_name = command
            .first_name
            .as_deref()
            .and_then(|n| parse_name("first_name", n, &mut violations));
        let last_name = command
            .last_name
            .as_deref()
            .and_then(|n| parse_name("last_name", n, &mut violations));
        let password = parse_password(
            command
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
            command
                .password_confirmation
                .as_ref()
                .map(ExposeSecret::expose_secret),
            &mut violations,
        );
        if !violations.is_empty() {
            return Err(AnswerInvitationError::Invalid(violations));
        }

        // A cheap check first, so that a wrong token or a settled invitation
        // never costs a password hash; the transaction checks it all again.
        let token = command.token;
        let found = self
            .ports
            .store
            .read(move |tx| tx.find_invitation(env, id))
            .await?;
        let invitation = self.proven(found, &token)?;
        invitation.check_answerable(self.ports.clock.now())?;
        let email = invitation.email.clone();
        let existing = self
            .ports
            .store
            .read(move |tx| tx.find_user_by_email(env, &email))
            .await?;
        // The password only ever shapes a user this acceptance creates: an
        // existing user's credentials are never touched by an invitation.
        let password_hash = match (existing, password) {
            (None, Some(password)) => Some(self.ports.hasher.hash_password(password).await?),
            _ => None,
        };
        let profile = (first_name, last_name, password_hash);

        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let secrets = std::sync::Arc::clone(&self.ports.secrets);
        let actor = Actor::client(env, INVITEE_ACTOR);
        let user_id = UserId::from_ulid(self.ports.ids.next_ulid());
        let membership_id = MembershipId::from_ulid(self.ports.ids.next_ulid());
        self.ports
            .store
            .transaction(move |tx| {
                let mut invitation = tx
                    .lock_invitation(env, id)?
                    .filter(|found| {
                        secrets.verify_secret(token.expose_secret(), &found.token_digest)
                    })
                    .ok_or(AnswerInvitationError::NotFound)?;
                invitation.check_answerable(now)?;
                let (user, user_created) = match tx.find_user_by_email(env, &invitation.email)? {
                    Some(user) if user.blocked() => return Err(AnswerInvitationError::UserBlocked),
                    Some(user) => (user, false),
                    None => {
                        let (first_name, last_name, password_hash) = profile;
                        let user = User::register(
                            user_id,
                            env,
                            NewUser {
                                // Receiving the token proves the address.
                                email_verified: true,
                                first_name,
                                last_name,
                                password_hash,
                                ..NewUser::with_email(invitation.email.clone())
                            },
                            now,
                        );
                        tx.insert_user(&user).map_err(|e| match e {
                            StoreError::Conflict(Unique::UserEmail) => {
                                AnswerInvitationError::UserRace
                            }
                            other => other.into(),
                        })?;
                        tx.append_event(&ports.event(
                            &actor,
                            "user.created",
                            &representation::user(&user),
                        ))?;
                        (user, true)
                    }
                };
                let membership = Membership::admit(
                    membership_id,
                    env,
                    invitation.organization_id,
                    user.id(),
                    invitation.role_ids.clone(),
                    now,
                )
                .map_err(|_| {
                    StoreError::Corrupt(format!("invitation {id} holds a role twice").into())
                })?;
                tx.insert_membership(&membership).map_err(|e| match e {
                    StoreError::Conflict(Unique::Membership) => {
                        AnswerInvitationError::AlreadyMember
                    }
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "membership.created",
                    &representation::membership(&membership),
                ))?;
                invitation.accept(user.id(), now)?;
                tx.update_invitation_status(&invitation)?;
                tx.append_event(&ports.event(
                    &actor,
                    "invitation.accepted",
                    &representation::invitation(&invitation),
                ))?;
                Ok(AcceptedInvitation {
                    invitation,
                    user,
                    user_created,
                    membership,
                })
            })
            .await
    }

    /// The invitee declines.
    ///
    /// # Errors
    /// [`AnswerInvitationError`]; nothing changes then.
    pub async fn decline(
        &self,
        env: portcullis_domain::EnvironmentId,
        id: InvitationId,
        token: SecretString,
    ) -> Result<Invitation, AnswerInvitationError> {
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let secrets = std::sync::Arc::clone(&self.ports.secrets);
        let actor = Actor::client(env, INVITEE_ACTOR);
        self.ports
            .store
            .transaction(move |tx| {
                let mut invitation = tx
                    .lock_invitation(env, id)?
                    .filter(|found| {
                        secrets.verify_secret(token.expose_secret(), &found.token_digest)
                    })
                    .ok_or(AnswerInvitationError::NotFound)?;
                invitation.decline(now)?;
                tx.update_invitation_status(&invitation)?;
                tx.append_event(&ports.event(
                    &actor,
                    "invitation.declined",
                    &representation::invitation(&invitation),
                ))?;
                Ok(invitation)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::access::{Description, Role, RoleName};
    use portcullis_domain::oauth::SecretDigest;
    use portcullis_domain::organization::{Organization, OrganizationName};
    use portcullis_domain::user::Metadata;
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::store::{CountedOrganization, CountedRole};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    /// What the mocked secret generator hands out, and its mocked digest.
    const TOKEN: &str = "generated-secret";

    fn env() -> EnvironmentId {
        EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9))
    }

    fn actor() -> Actor {
        Actor::system(env())
    }

    fn service(tx: MockTx) -> (InvitationService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (
            InvitationService::new(fixed_ports(uow.clone(), None), Lifetimes::INVITATIONS),
            uow,
        )
    }

    fn organization_id() -> OrganizationId {
        OrganizationId::from_ulid(ulid::Ulid::from_parts(2, 2))
    }

    fn role_id(n: u128) -> RoleId {
        RoleId::from_ulid(ulid::Ulid::from_parts(3, n))
    }

    fn invitation_id() -> InvitationId {
        InvitationId::from_ulid(ulid::Ulid::from_parts(4, 4))
    }

    fn email() -> Email {
        Email::parse("ann@example.com").unwrap()
    }

    fn then() -> Timestamp {
        Timestamp::from_unix_micros(1).unwrap()
    }

    /// A stored pending invitation that expires `ttl` seconds after the mocked now.
    fn pending(ttl: i64) -> Invitation {
        Invitation::issue(
            invitation_id(),
            env(),
            NewInvitation {
                organization_id: organization_id(),
                email: email(),
                role_ids: vec![role_id(1), role_id(2)],
                token_digest: SecretDigest::new(format!("digest-of:{TOKEN}")),
                expires_at: now().plus_seconds(ttl),
            },
            then(),
        )
        .unwrap()
    }

    fn user(blocked: bool) -> User {
        User::register(
            UserId::from_ulid(ulid::Ulid::from_parts(5, 5)),
            env(),
            NewUser {
                blocked,
                ..NewUser::with_email(email())
            },
            then(),
        )
    }

    fn organization_exists(tx: &mut MockTx) {
        tx.expect_find_organization().returning(|env, id| {
            Ok(Some(CountedOrganization {
                organization: Organization::found(
                    id,
                    env,
                    OrganizationName::parse("Acme").unwrap(),
                    Metadata::empty(),
                    then(),
                ),
                member_count: 0,
            }))
        });
    }

    fn roles_exist(tx: &mut MockTx) {
        tx.expect_find_role().returning(|env, id| {
            Ok(Some(CountedRole {
                role: Role::define(
                    id,
                    env,
                    RoleName::parse("admin").unwrap(),
                    Description::empty(),
                    then(),
                ),
                user_count: 0,
                permission_count: 0,
            }))
        });
    }

    fn command(expires_at: Option<&str>) -> CreateInvitation {
        CreateInvitation {
            organization: organization_id(),
            email: "Ann@Example.com".into(),
            roles: vec![role_id(1), role_id(2)],
            expires_at: expires_at.map(str::to_owned),
        }
    }

    fn accept_command(token: &str, password: Option<&str>) -> AcceptInvitation {
        AcceptInvitation {
            token: SecretString::from(token),
            first_name: Some("Ann".into()),
            last_name: None,
            password: password.map(SecretString::from),
            password_confirmation: None,
        }
    }

    #[tokio::test]
    async fn create_stores_only_the_token_digest_and_the_default_expiry() {
        let mut tx = MockTx::new();
        organization_exists(&mut tx);
        roles_exist(&mut tx);
        tx.expect_find_user_by_email().returning(|_, _| Ok(None));
        tx.expect_insert_invitation()
            .withf(|i| {
                i.status == InvitationStatus::Pending
                    && i.email.as_str() == "ann@example.com"
                    && i.token_digest.as_str() == format!("digest-of:{TOKEN}")
                    && i.expires_at == now().plus_seconds(7 * 24 * 3600)
                    && i.role_ids == vec![role_id(1), role_id(2)]
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "invitation.created" && !e.data.contains(TOKEN))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let issued = service.create(&actor(), command(None)).await.unwrap();

        assert_eq!(issued.token.expose_secret(), TOKEN);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn create_refuses_an_address_already_in_the_organization() {
        let mut tx = MockTx::new();
        organization_exists(&mut tx);
        roles_exist(&mut tx);
        tx.expect_find_user_by_email()
            .returning(|_, _| Ok(Some(user(false))));
        tx.expect_list_memberships()
            .withf(|_, q| q.organization == Some(organization_id()) && q.page.limit == 1)
            .returning(|env, _| {
                Ok(vec![
                    Membership::admit(
                        MembershipId::from_ulid(ulid::Ulid::from_parts(6, 6)),
                        env,
                        organization_id(),
                        user(false).id(),
                        vec![],
                        then(),
                    )
                    .unwrap(),
                ])
            });
        tx.expect_insert_invitation().never();
        let (service, uow) = service(tx);

        let error = service.create(&actor(), command(None)).await.unwrap_err();

        assert!(matches!(error, CreateInvitationError::AlreadyMember));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn create_checks_the_expiry_against_the_clock_before_the_store() {
        let (service, uow) = service(MockTx::new());
        let past = now().plus_seconds(-1).to_rfc3339();
        let too_far = now().plus_seconds(31 * 24 * 3600).to_rfc3339();
        for (raw, code) in [
            (past.as_str(), "expires_at_in_past"),
            (too_far.as_str(), "expires_at_too_far"),
            ("tomorrow", "invalid_expires_at"),
        ] {
            let Err(CreateInvitationError::Invalid(list)) =
                service.create(&actor(), command(Some(raw))).await
            else {
                panic!("{raw} accepted");
            };
            assert_eq!(list[0].code, code);
        }
        assert_eq!(uow.log(), UowLog::default(), "no store work");
    }

    #[tokio::test]
    async fn accept_creates_the_user_the_membership_and_settles_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_find_invitation()
            .returning(|_, _| Ok(Some(pending(60))));
        tx.expect_lock_invitation()
            .times(1)
            .returning(|_, _| Ok(Some(pending(60))));
        tx.expect_find_user_by_email().returning(|_, _| Ok(None));
        tx.expect_insert_user()
            .withf(|u| {
                u.email_verified()
                    && u.first_name().map(|n| n.as_str()) == Some("Ann")
                    && u.password_hash().map(|h| h.as_str()) == Some("hash:correct horse")
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_membership()
            .withf(|m| {
                m.organization_id == organization_id() && m.role_ids == vec![role_id(1), role_id(2)]
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_update_invitation_status()
            .withf(|i| i.status == InvitationStatus::Accepted && i.user_id.is_some())
            .times(1)
            .returning(|_| Ok(()));
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&events);
        tx.expect_append_event().times(3).returning(move |e| {
            assert_eq!(e.actor, INVITEE_ACTOR);
            seen.lock().unwrap().push(e.event_type.clone());
            Ok(())
        });
        let (service, uow) = service(tx);

        let accepted = service
            .accept(
                env(),
                invitation_id(),
                accept_command(TOKEN, Some("correct horse")),
            )
            .await
            .unwrap();

        assert!(accepted.user_created);
        assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
        assert_eq!(accepted.invitation.user_id, Some(accepted.user.id()));
        assert_eq!(accepted.membership.user_id, accepted.user.id());
        assert_eq!(
            *events.lock().unwrap(),
            ["user.created", "membership.created", "invitation.accepted"]
        );
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn a_wrong_token_is_not_found_and_costs_no_hash_and_no_transaction() {
        let mut tx = MockTx::new();
        tx.expect_find_invitation()
            .returning(|_, _| Ok(Some(pending(60))));
        tx.expect_find_user_by_email().never();
        let (service, uow) = service(tx);

        let error = service
            .accept(
                env(),
                invitation_id(),
                accept_command("guess", Some("correct horse")),
            )
            .await
            .unwrap_err();

        assert!(matches!(error, AnswerInvitationError::NotFound));
        assert_eq!(uow.log().committed + uow.log().rolled_back, 0);
    }

    #[tokio::test]
    async fn expiry_follows_the_injected_clock() {
        // The mocked clock reads `now()`: an invitation expiring at that very
        // instant is expired, one a second later is not.
        let mut tx = MockTx::new();
        tx.expect_find_invitation()
            .returning(|_, _| Ok(Some(pending(0))));
        let (expired, uow) = service(tx);
        let error = expired
            .accept(env(), invitation_id(), accept_command(TOKEN, None))
            .await
            .unwrap_err();
        assert!(matches!(error, AnswerInvitationError::Expired));
        assert_eq!(uow.log().committed + uow.log().rolled_back, 0);

        let mut tx = MockTx::new();
        tx.expect_lock_invitation()
            .returning(|_, _| Ok(Some(pending(1))));
        tx.expect_update_invitation_status()
            .withf(|i| i.status == InvitationStatus::Declined)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "invitation.declined")
            .times(1)
            .returning(|_| Ok(()));
        let (open, uow) = service(tx);
        let declined = open
            .decline(env(), invitation_id(), SecretString::from(TOKEN))
            .await
            .unwrap();
        assert_eq!(declined.status, InvitationStatus::Declined);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn an_existing_user_keeps_its_credentials_and_a_blocked_one_is_refused() {
        let mut tx = MockTx::new();
        tx.expect_find_invitation()
            .returning(|_, _| Ok(Some(pending(60))));
        tx.expect_lock_invitation()
            .returning(|_, _| Ok(Some(pending(60))));
        tx.expect_find_user_by_email()
            .returning(|_, _| Ok(Some(user(true))));
        tx.expect_insert_user().never();
        tx.expect_insert_membership().never();
        let (service, uow) = service(tx);

        let error = service
            .accept(
                env(),
                invitation_id(),
                accept_command(TOKEN, Some("correct horse")),
            )
            .await
            .unwrap_err();

        assert!(matches!(error, AnswerInvitationError::UserBlocked));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn a_settled_invitation_cannot_be_revoked() {
        let mut tx = MockTx::new();
        tx.expect_lock_invitation().returning(|_, _| {
            let mut settled = pending(60);
            settled.decline(now()).unwrap();
            Ok(Some(settled))
        });
        tx.expect_update_invitation_status().never();
        let (service, _) = service(tx);

        let error = service.revoke(&actor(), invitation_id()).await.unwrap_err();

        assert!(matches!(
            error,
            InvitationLookupError::NotPending(InvitationStatus::Declined)
        ));
    }
}
