//! Actions and their executions: round trips, one action per trigger per
//! environment, keyset pages (both directions), cascades and pruning.

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::action::{
    Action, ActionChanges, ActionCode, ActionExecution, ActionName, ExecutionOutcome, NewAction,
    Trigger,
};
use portcullis_domain::environment::Environment;
use portcullis_domain::{ActionExecutionId, ActionId};
use portcullis_ports::store::{Keyset, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, ulid};

fn action(env: &Environment, n: u64, trigger: Trigger) -> Action {
    Action::create(
        ActionId::from_ulid(ulid(n)),
        env.id,
        NewAction {
            name: ActionName::parse(&format!("Action {n}")).unwrap(),
            trigger,
            code: ActionCode::parse("export default async function(event) {\n  return { claims: event.claims };\n}\n// ünïcödé").unwrap(),
            enabled: true,
        },
        at(i64::try_from(n).unwrap() * 1_000 + 654_321),
    )
}

fn execution(action: &Action, n: u64, outcome: ExecutionOutcome) -> ActionExecution {
    ActionExecution {
        id: ActionExecutionId::from_ulid(ulid(n)),
        environment_id: action.environment_id,
        action_id: action.id,
        outcome,
        duration_ms: u32::try_from(n).unwrap(),
        error: (outcome != ExecutionOutcome::Ok).then(|| format!("run {n} failed")),
        executed_at: at(i64::try_from(n).unwrap() * 1_000 + 1),
    }
}

async fn insert(store: &DieselStore, action: &Action) -> Result<(), StoreError> {
    let row = action.clone();
    store.transaction(move |tx| tx.insert_action(&row)).await
}

fn all() -> Keyset {
    Keyset {
        limit: 100,
        descending: false,
        after: None,
    }
}

on_both_backends! {
    /// Every field survives insert, update and delete, in its environment
    /// only; a second action for a trigger is a conflict on create and on update.
    async fn actions_round_trip_with_one_per_trigger(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let pre = action(&env, 1, Trigger::PreToken);
        insert(&store, &pre).await.unwrap();
        let (env_id, other_id, id) = (env.id, other.id, pre.id);
        let found = store.read(move |tx| tx.find_action(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&pre));
        assert_eq!(store.read(move |tx| tx.find_action(other_id, id)).await.unwrap(), None);
        let by_trigger = store
            .read(move |tx| tx.find_action_by_trigger(env_id, Trigger::PreToken))
            .await
            .unwrap();
        assert_eq!(by_trigger, Some(pre.clone()));

        let second = action(&env, 2, Trigger::PreToken);
        assert!(matches!(
            insert(&store, &second).await,
            Err(StoreError::Conflict(Unique::ActionTrigger))
        ));
        insert(&store, &action(&other, 3, Trigger::PreToken)).await.unwrap();
        let post = action(&env, 4, Trigger::PostLogin);
        insert(&store, &post).await.unwrap();

        let mut moved = post.clone();
        moved.apply(ActionChanges { trigger: Some(Trigger::PreToken), ..ActionChanges::default() }, at(9_000_000));
        let row = moved.clone();
        assert!(matches!(
            store.transaction(move |tx| tx.update_action(&row)).await,
            Err(StoreError::Conflict(Unique::ActionTrigger))
        ));
        let mut renamed = post.clone();
        renamed.apply(
            ActionChanges {
                name: Some(ActionName::parse("Renamed").unwrap()),
                code: Some(ActionCode::parse("export default () => ({})").unwrap()),
                enabled: Some(false),
                ..ActionChanges::default()
            },
            at(9_000_000),
        );
        let row = renamed.clone();
        store.transaction(move |tx| tx.update_action(&row)).await.unwrap();
        let post_id = post.id;
        let found = store.read(move |tx| tx.find_action(env_id, post_id)).await.unwrap();
        assert_eq!(found, Some(renamed));

        let listed = store.read(move |tx| tx.list_actions(env_id, &all())).await.unwrap();
        assert_eq!(listed.iter().map(|a| a.id).collect::<Vec<_>>(), vec![pre.id, post.id]);

        assert!(store.transaction(move |tx| tx.delete_action(env_id, id)).await.unwrap());
        assert!(!store.transaction(move |tx| tx.delete_action(env_id, id)).await.unwrap());
        let gone = store
            .read(move |tx| tx.find_action_by_trigger(env_id, Trigger::PreToken))
            .await
            .unwrap();
        assert_eq!(gone, None);
        let ghost = action(&env, 5, Trigger::PostLogin);
        assert!(matches!(
            store.transaction(move |tx| tx.update_action(&ghost)).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(count(db, "actions"), 2);
    }
}

on_both_backends! {
    /// Runs list in id order both ways with a cursor, stay in their
    /// environment, are pruned to the most recent and go with their action.
    async fn executions_page_prune_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let pre = action(&env, 1, Trigger::PreToken);
        insert(&store, &pre).await.unwrap();
        let runs: Vec<ActionExecution> = (10..16)
            .map(|n| execution(&pre, n, if n % 2 == 0 { ExecutionOutcome::Ok } else { ExecutionOutcome::Timeout }))
            .collect();
        let rows = runs.clone();
        store.transaction(move |tx| tx.insert_action_executions(&rows)).await.unwrap();
        let (env_id, other_id, action_id) = (env.id, other.id, pre.id);

        let recent_first = Keyset { limit: 2, descending: true, after: None };
        let page = store
            .read(move |tx| tx.list_action_executions(env_id, action_id, &recent_first))
            .await
            .unwrap();
        assert_eq!(page, vec![runs[5].clone(), runs[4].clone()]);
        let after = Keyset { limit: 10, descending: true, after: Some(runs[4].id.to_string()) };
        let rest = store
            .read(move |tx| tx.list_action_executions(env_id, action_id, &after))
            .await
            .unwrap();
        assert_eq!(rest, runs[..4].iter().rev().cloned().collect::<Vec<_>>());
        let oldest_first = store
            .read(move |tx| tx.list_action_executions(env_id, action_id, &all()))
            .await
            .unwrap();
        assert_eq!(oldest_first, runs);
        let cross = store
            .read(move |tx| tx.list_action_executions(other_id, action_id, &all()))
            .await
            .unwrap();
        assert!(cross.is_empty());

        let wanted = runs[3].id;
        let one = store
            .read(move |tx| tx.find_action_execution(env_id, action_id, wanted))
            .await
            .unwrap();
        assert_eq!(one, Some(runs[3].clone()));
        let elsewhere = store
            .read(move |tx| tx.find_action_execution(other_id, action_id, wanted))
            .await
            .unwrap();
        assert_eq!(elsewhere, None);
        let pruned = store.transaction(move |tx| tx.prune_action_executions(action_id, 4)).await.unwrap();
        assert_eq!(pruned, 2);
        let kept = store
            .read(move |tx| tx.list_action_executions(env_id, action_id, &all()))
            .await
            .unwrap();
        assert_eq!(kept, runs[2..].to_vec(), "the four most recent stay");
        assert_eq!(store.transaction(move |tx| tx.prune_action_executions(action_id, 4)).await.unwrap(), 0);

        let orphan = execution(&action(&env, 2, Trigger::PostLogin), 20, ExecutionOutcome::Ok);
        assert!(matches!(
            store.transaction(move |tx| tx.insert_action_executions(&[orphan])).await,
            Err(StoreError::MissingReference)
        ));
        assert!(store.transaction(move |tx| tx.delete_action(env_id, action_id)).await.unwrap());
        assert_eq!(count(db, "action_executions"), 0, "cascaded");
    }
}
