DROP TABLE membership_roles;
DROP TABLE memberships;
DROP TABLE organizations;
