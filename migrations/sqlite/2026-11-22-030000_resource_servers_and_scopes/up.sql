-- Keyset listing of resource servers and scopes in creation (id) order, per
-- environment and, for `filter[resource_server]`, per resource server.
CREATE INDEX resource_servers_environment_id_id_idx ON resource_servers (environment_id, id);
CREATE INDEX scopes_environment_id_id_idx ON scopes (environment_id, id);
CREATE INDEX scopes_resource_server_id_id_idx ON scopes (resource_server_id, id);
-- Subsumed by the (environment_id, id) index above.
DROP INDEX scopes_environment_id_idx;
