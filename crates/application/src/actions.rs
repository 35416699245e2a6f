//! The actions collection: JavaScript attached to a trigger of an
//! environment, one per trigger. Code is checked by the action runner
//! (it must compile, evaluate within the limits and export a default
//! function) before it is stored, so a stored action always loads. Every
//! change commits with its audit event and then makes this node forget the
//! environment's remembered actions, so the token path sees it at once.
//! The runs themselves live in [`crate::action_runs`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use portcullis_domain::action::{
    Action, ActionChanges, ActionCode, ActionCodeError, ActionExecution, ActionName, NewAction,
    Trigger,
};
use portcullis_domain::{ActionExecutionId, ActionId, EnvironmentId, Timestamp};
use portcullis_ports::actions::ActionRunner;
use portcullis_ports::store::{StoreError, Unique, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// A new action as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateAction {
    /// Required name.
    pub name: Option<String>,
    /// Required trigger.
    pub trigger: Option<String>,
    /// Required source.
    pub code: Option<String>,
    /// Whether it runs; absent means true.
    pub enabled: Option<bool>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateAction {
    /// New name.
    pub name: Option<String>,
    /// New trigger.
    pub trigger: Option<String>,
    /// New source (checked like on create).
    pub code: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// Why an action was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateActionError {
    /// Attributes break rules (the code's compile error included).
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment already has an action for the trigger.
    #[error("an action already exists for trigger {}", .0.as_str())]
    TriggerTaken(Trigger),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an action was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateActionError {
    /// No such action in the environment.
    #[error("action not found")]
    NotFound,
    /// Attributes break rules (the code's compile error included).
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment already has an action for the new trigger.
    #[error("an action already exists for trigger {}", .0.as_str())]
    TriggerTaken(Trigger),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an action (or its executions) could not be read, or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ActionLookupError {
    /// No such action in the environment.
    #[error("action not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ActionName> {
    ActionName::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("name", "invalid_name", e)))
        .ok()
}

fn parse_trigger(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<Trigger> {
    Trigger::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("trigger", "invalid_trigger", e)))
        .ok()
}

fn parse_code(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ActionCode> {
    ActionCode::parse(raw)
        .map_err(|e| {
            let code = match e {
                ActionCodeError::TooLarge => "code_too_large",
                ActionCodeError::Empty | ActionCodeError::Nul => "invalid_code",
            };
            violations.push(FieldViolation::new("code", code, e));
        })
        .ok()
}

fn required(field: &'static str, code: &'static str, violations: &mut Vec<FieldViolation>) {
    violations.push(FieldViolation::new(
        field,
        code,
        format!("{field} is required"),
    ));
}

/// What a load found (`None`: no action), and when.
type Remembered = (Option<Arc<Action>>, Timestamp);

/// The action of each (environment, trigger), remembered by the token path
/// so that issuing a token reads no store for it; `None` (no action) is
/// remembered too. Every action write calls [`ActionMemo::forget`].
pub struct ActionMemo {
    ttl_seconds: i64,
    entries: RwLock<HashMap<(EnvironmentId, Trigger), Remembered>>,
    /// Bumped by every forget: a load that started before it is not kept.
    generation: AtomicU64,
}

impl std::fmt::Debug for ActionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionMemo")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// Environments remembered at most; the memo is emptied when full.
const MEMO_CAPACITY: usize = 10_000;

impl ActionMemo {
    /// A memo keeping entries for `ttl_seconds` (0 disables it).
    #[must_use]
    pub fn new(ttl_seconds: i64) -> Self {
        Self {
            ttl_seconds,
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// What a load must hand back to [`ActionMemo::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The remembered action of a trigger (`Some(None)`: remembered as
    /// absent), if fresh at `now`.
    #[must_use]
    pub fn get(
        &self,
        environment: EnvironmentId,
        trigger: Trigger,
        now: Timestamp,
    ) -> Option<Option<Arc<Action>>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&(environment, trigger))
            .filter(|(_, loaded_at)| loaded_at.plus_seconds(self.ttl_seconds) > now)
            .map(|(action, _)| action.clone())
    }

    /// Remembers what a load found, unless the memo is disabled or a
    /// forget happened since `generation` was read.
    pub fn remember(
        &self,
        generation: u64,
        key: (EnvironmentId, Trigger),
        action: Option<Arc<Action>>,
        now: Timestamp,
    ) {
        if self.ttl_seconds <= 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation() != generation {
            return;
        }
        if entries.len() >= MEMO_CAPACITY {
            entries.clear();
        }
        entries.insert(key, (action, now));
    }

    /// Forgets every entry of an environment.
    pub fn forget(&self, environment: EnvironmentId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(env, _), _| *env != environment);
    }

    /// Forgets every entry.
    pub fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// The actions collection.
pub struct ActionService<U> {
    ports: Ports<U>,
    runner: Arc<dyn ActionRunner>,
    memo: Arc<ActionMemo>,
}

impl<U> std::fmt::Debug for ActionService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> ActionService<U> {
    /// A service on `ports`, checking code with `runner` and invalidating `memo`.
    pub fn new(ports: Ports<U>, runner: Arc<dyn ActionRunner>, memo: Arc<ActionMemo>) -> Self {
        Self {
            ports,
            runner,
            memo,
        }
    }

    /// Checks code with the runner, recording the engine's message (and line).
    async fn check_code(
        &self,
        actor: &Actor,
        code: Option<&ActionCode>,
        violations: &mut Vec<FieldViolation>,
    ) {
        if let Some(code) = code
            && let Err(error) = self
                .runner
                .check(actor.environment_id(), code.as_str())
                .await
        {
            violations.push(FieldViolation::new("code", "code_does_not_compile", error));
        }
    }

    /// Creates an action.
    ///
    /// # Errors
    /// [`CreateActionError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateAction,
    ) -> Result<Action, CreateActionError> {
        let mut violations = Vec::new();
        let name = match command.name.as_deref() {
            Some(raw) => parse_name(raw, &mut violations),
            None => {
                required("name", "name_required", &mut violations);
                None
            }
        };
        let trigger = match command.trigger.as_deref() {
            Some(raw) => parse_trigger(raw, &mut violations),
            None => {
                required("trigger", "trigger_required", &mut violations);
                None
            }
        };
        let code = match command.code.as_deref() {
            Some(raw) => parse_code(raw, &mut violations),
            None => {
                required("code", "code_required", &mut violations);
                None
            }
        };
        self.check_code(actor, code.as_ref(), &mut violations).await;
        let (Some(name), Some(trigger), Some(code), true) =
            (name, trigger, code, violations.is_empty())
        else {
            return Err(CreateActionError::Invalid(violations));
        };
        let id = ActionId::from_ulid(self.ports.ids.next_ulid());
        let action = Action::create(
            id,
            actor.environment_id(),
            NewAction {
                name,
                trigger,
                code,
                enabled: command.enabled.unwrap_or(true),
            },
            self.ports.clock.now(),
        );
        let event = self
            .ports
            .event(actor, "action.created", &representation::action(&action));
        let stored = action.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_action(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::ActionTrigger) => {
                        CreateActionError::TriggerTaken(stored.trigger)
                    }
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok::<_, CreateActionError>(())
            })
            .await?;
        self.memo.forget(actor.environment_id());
        Ok(action)
    }

    /// One action.
    ///
    /// # Errors
    /// [`ActionLookupError`].
    pub async fn get(&self, actor: &Actor, id: ActionId) -> Result<Action, ActionLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_action(env, id))
            .await?
            .ok_or(ActionLookupError::NotFound)
    }

    /// One page of actions, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(&self, actor: &Actor, page: PageParams) -> Result<Page<Action>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_actions(env, &keyset))
            .await?;
        Ok(page.page(rows, |action| action.id.to_string()))
    }

    /// Applies a partial update; new code is checked first.
    ///
    /// # Errors
    /// [`UpdateActionError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: ActionId,
        command: UpdateAction,
    ) -> Result<Action, UpdateActionError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .as_deref()
            .and_then(|raw| parse_name(raw, &mut violations));
        let trigger = command
            .trigger
            .as_deref()
            .and_then(|raw| parse_trigger(raw, &mut violations));
        let code = command
            .code
            .as_deref()
            .and_then(|raw| parse_code(raw, &mut violations));
        self.check_code(actor, code.as_ref(), &mut violations).await;
        if !violations.is_empty() {
            return Err(UpdateActionError::Invalid(violations));
        }
        let changes = ActionChanges {
            name,
            trigger,
            code,
            enabled: command.enabled,
        };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor_in = actor.clone();
        let updated = self
            .ports
            .store
            .transaction(move |tx| {
                let mut action = tx
                    .find_action(env, id)?
                    .ok_or(UpdateActionError::NotFound)?;
                action.apply(changes, now);
                tx.update_action(&action).map_err(|e| match e {
                    StoreError::NotFound => UpdateActionError::NotFound,
                    StoreError::Conflict(Unique::ActionTrigger) => {
                        UpdateActionError::TriggerTaken(action.trigger)
                    }
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor_in,
                    "action.updated",
                    &representation::action(&action),
                ))?;
                Ok::<_, UpdateActionError>(action)
            })
            .await?;
        self.memo.forget(env);
        Ok(updated)
    }

    /// Deletes an action and its executions.
    ///
    /// # Errors
    /// [`ActionLookupError`].
    pub async fn delete(&self, actor: &Actor, id: ActionId) -> Result<(), ActionLookupError> {
        let env = actor.environment_id();
        let deleted = self
            .ports
            .delete_recorded(
                actor,
                "action.deleted",
                move |tx| tx.find_action(env, id),
                move |tx| tx.delete_action(env, id),
                representation::action,
                || ActionLookupError::NotFound,
            )
            .await;
        self.memo.forget(env);
        deleted
    }

    /// One recorded run of an action.
    ///
    /// # Errors
    /// [`ActionLookupError::NotFound`] for an unknown action or run.
    pub async fn execution(
        &self,
        actor: &Actor,
        action: ActionId,
        id: ActionExecutionId,
    ) -> Result<ActionExecution, ActionLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_action_execution(env, action, id))
            .await?
            .ok_or(ActionLookupError::NotFound)
    }

    /// One page of an action's recorded runs; `page.descending` is most
    /// recent first.
    ///
    /// # Errors
    /// [`ActionLookupError::NotFound`] for an unknown action.
    pub async fn executions(
        &self,
        actor: &Actor,
        id: ActionId,
        page: PageParams,
    ) -> Result<Page<ActionExecution>, ActionLookupError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| {
                if tx.find_action(env, id)?.is_none() {
                    return Err(ActionLookupError::NotFound);
                }
                Ok(tx.list_action_executions(env, id, &keyset)?)
            })
            .await?;
        Ok(page.page(rows, |execution| execution.id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_ports::actions::{ActionCodeError as EngineError, MockActionRunner};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    const SEED: &str = "export default async function(event) { return { claims: event.claims }; }";

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn accepting() -> MockActionRunner {
        let mut runner = MockActionRunner::new();
        runner.expect_check().returning(|_, _| Ok(()));
        runner
    }

    fn service(
        tx: MockTx,
        runner: MockActionRunner,
    ) -> (ActionService<InlineUow>, InlineUow, Arc<ActionMemo>) {
        let uow = InlineUow::new(tx);
        let memo = Arc::new(ActionMemo::new(30));
        (
            ActionService::new(
                fixed_ports(uow.clone(), None),
                Arc::new(runner),
                Arc::clone(&memo),
            ),
            uow,
            memo,
        )
    }

    fn existing(trigger: Trigger) -> Action {
        Action::create(
            ActionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            NewAction {
                name: ActionName::parse("Claims").unwrap(),
                trigger,
                code: ActionCode::parse(SEED).unwrap(),
                enabled: true,
            },
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    fn codes(violations: &[FieldViolation]) -> Vec<(&'static str, &'static str)> {
        violations.iter().map(|v| (v.field, v.code)).collect()
    }

    fn remembered(memo: &ActionMemo) {
        memo.remember(
            memo.generation(),
            (actor().environment_id(), Trigger::PreToken),
            None,
            now(),
        );
        assert!(
            memo.get(actor().environment_id(), Trigger::PreToken, now())
                .is_some()
        );
    }

    #[tokio::test]
    async fn create_checks_the_code_stores_it_with_its_event_and_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_insert_action()
            .withf(|a| {
                a.trigger == Trigger::PreToken
                    && a.enabled
                    && a.name.as_str() == "Claims"
                    && a.code.as_str() == SEED
                    && a.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "action.created" && e.resource_type == "action")
            .times(1)
            .returning(|_| Ok(()));
        let mut runner = MockActionRunner::new();
        runner
            .expect_check()
            .withf(|environment, code| *environment == actor().environment_id() && code == SEED)
            .times(1)
            .returning(|_, _| Ok(()));
        let (service, uow, memo) = service(tx, runner);
        remembered(&memo);
        let action = service
            .create(
                &actor(),
                CreateAction {
                    name: Some(" Claims ".into()),
                    trigger: Some("pre_token".into()),
                    code: Some(SEED.into()),
                    enabled: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(action.trigger, Trigger::PreToken);
        assert_eq!(uow.log().committed, 1);
        assert!(
            memo.get(actor().environment_id(), Trigger::PreToken, now())
                .is_none()
        );
    }

    #[tokio::test]
    async fn code_that_does_not_compile_is_refused_with_the_engine_message() {
        let mut runner = MockActionRunner::new();
        runner.expect_check().returning(|_, _| {
            Err(EngineError {
                message: "SyntaxError: unexpected token in expression: '}' (line 3)".into(),
                line: Some(3),
                column: Some(1),
            })
        });
        let (service, uow, _) = service(MockTx::new(), runner);
        let error = service
            .create(
                &actor(),
                CreateAction {
                    name: Some("x".into()),
                    trigger: Some("pre_token".into()),
                    code: Some("export default function( {".into()),
                    enabled: None,
                },
            )
            .await
            .unwrap_err();
        let CreateActionError::Invalid(violations) = error else {
            panic!("unexpected {error:?}");
        };
        assert_eq!(codes(&violations), vec![("code", "code_does_not_compile")]);
        assert!(violations[0].detail.contains("(line 3)"));
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn create_reports_every_violation_without_running_the_engine() {
        let mut runner = MockActionRunner::new();
        runner.expect_check().never();
        let (service, uow, _) = service(MockTx::new(), runner);
        let error = service
            .create(
                &actor(),
                CreateAction {
                    name: None,
                    trigger: Some("on_login".into()),
                    code: Some("x".repeat(ActionCode::MAX_BYTES + 1)),
                    enabled: None,
                },
            )
            .await
            .unwrap_err();
        let CreateActionError::Invalid(violations) = error else {
            panic!("unexpected {error:?}");
        };
        assert_eq!(
            codes(&violations),
            vec![
                ("name", "name_required"),
                ("trigger", "invalid_trigger"),
                ("code", "code_too_large")
            ]
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn a_second_action_for_a_trigger_is_a_conflict() {
        let mut tx = MockTx::new();
        tx.expect_insert_action()
            .returning(|_| Err(StoreError::Conflict(Unique::ActionTrigger)));
        tx.expect_append_event().never();
        let (service, uow, _) = service(tx, accepting());
        let error = service
            .create(
                &actor(),
                CreateAction {
                    name: Some("Second".into()),
                    trigger: Some("post_login".into()),
                    code: Some(SEED.into()),
                    enabled: Some(false),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            CreateActionError::TriggerTaken(Trigger::PostLogin)
        ));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn update_checks_new_code_moves_the_version_and_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_find_action()
            .returning(|_, _| Ok(Some(existing(Trigger::PreToken))));
        tx.expect_update_action()
            .withf(|a| {
                !a.enabled
                    && a.code.as_str() == "export default () => ({})"
                    && a.updated_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "action.updated")
            .times(1)
            .returning(|_| Ok(()));
        let mut runner = MockActionRunner::new();
        runner.expect_check().times(1).returning(|_, _| Ok(()));
        let (service, _, memo) = service(tx, runner);
        remembered(&memo);
        let updated = service
            .update(
                &actor(),
                existing(Trigger::PreToken).id,
                UpdateAction {
                    code: Some("export default () => ({})".into()),
                    enabled: Some(false),
                    ..UpdateAction::default()
                },
            )
            .await
            .unwrap();
        assert_ne!(
            updated.version_key(),
            existing(Trigger::PreToken).version_key()
        );
        assert!(
            memo.get(actor().environment_id(), Trigger::PreToken, now())
                .is_none()
        );
    }

    #[tokio::test]
    async fn update_to_a_taken_trigger_is_a_conflict_and_unknown_actions_are_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_action()
            .returning(|_, _| Ok(Some(existing(Trigger::PostLogin))));
        tx.expect_update_action()
            .returning(|_| Err(StoreError::Conflict(Unique::ActionTrigger)));
        let (taken, _, _) = service(tx, accepting());
        let error = taken
            .update(
                &actor(),
                existing(Trigger::PostLogin).id,
                UpdateAction {
                    trigger: Some("pre_token".into()),
                    ..UpdateAction::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            UpdateActionError::TriggerTaken(Trigger::PreToken)
        ));

        let mut tx = MockTx::new();
        tx.expect_find_action().returning(|_, _| Ok(None));
        let (service, uow, _) = service(tx, accepting());
        let id = existing(Trigger::PreToken).id;
        assert!(matches!(
            service.update(&actor(), id, UpdateAction::default()).await,
            Err(UpdateActionError::NotFound)
        ));
        assert!(matches!(
            service.delete(&actor(), id).await,
            Err(ActionLookupError::NotFound)
        ));
        assert!(matches!(
            service
                .executions(&actor(), id, PageParams::default())
                .await,
            Err(ActionLookupError::NotFound)
        ));
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn delete_records_the_event_and_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_find_action()
            .returning(|_, _| Ok(Some(existing(Trigger::PreToken))));
        tx.expect_delete_action()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "action.deleted" && e.data.contains("pre_token"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx, accepting());
        remembered(&memo);
        service
            .delete(&actor(), existing(Trigger::PreToken).id)
            .await
            .unwrap();
        assert_eq!(uow.log().committed, 1);
        assert!(
            memo.get(actor().environment_id(), Trigger::PreToken, now())
                .is_none()
        );
    }

    #[test]
    fn the_memo_expires_and_ignores_loads_overtaken_by_a_forget() {
        let env = actor().environment_id();
        let memo = ActionMemo::new(30);
        let stale = memo.generation();
        memo.forget(env);
        memo.remember(stale, (env, Trigger::PreToken), None, now());
        assert!(memo.get(env, Trigger::PreToken, now()).is_none());
        memo.remember(memo.generation(), (env, Trigger::PreToken), None, now());
        assert_eq!(memo.get(env, Trigger::PreToken, now()), Some(None));
        assert!(
            memo.get(env, Trigger::PreToken, now().plus_seconds(30))
                .is_none()
        );
        let disabled = ActionMemo::new(0);
        disabled.remember(disabled.generation(), (env, Trigger::PreToken), None, now());
        assert!(disabled.get(env, Trigger::PreToken, now()).is_none());
    }
}
