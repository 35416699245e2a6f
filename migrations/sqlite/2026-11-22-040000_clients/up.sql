-- Keyset pagination of the clients collection (GET /api/clients): pages
-- are read in id (creation) order within one environment.
CREATE INDEX clients_environment_id_id_idx ON clients (environment_id, id);
