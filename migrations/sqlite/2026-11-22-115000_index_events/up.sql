-- The audit trail is read back by resource and by type (GET /api/events
-- with filter[resource_id] / filter[type]); both keep id order.
CREATE INDEX events_environment_id_resource_id_id_idx ON events (environment_id, resource_id, id);
CREATE INDEX events_environment_id_event_type_id_idx ON events (environment_id, event_type, id);
