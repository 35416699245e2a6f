DROP TABLE action_executions;
DROP TABLE actions;
