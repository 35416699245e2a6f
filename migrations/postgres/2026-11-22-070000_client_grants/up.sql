-- Keyset listing of an environment's client grants walks (environment_id, id).
CREATE INDEX client_grants_environment_id_id_idx ON client_grants (environment_id, id);
