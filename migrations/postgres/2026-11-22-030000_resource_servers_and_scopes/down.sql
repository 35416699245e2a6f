CREATE INDEX scopes_environment_id_idx ON scopes (environment_id);
DROP INDEX scopes_resource_server_id_id_idx;
DROP INDEX scopes_environment_id_id_idx;
DROP INDEX resource_servers_environment_id_id_idx;
