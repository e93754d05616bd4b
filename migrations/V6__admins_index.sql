-- The admins, for the last-admin rule (API.md, "The last admin stays"):
-- a demotion or deletion asks whether any other admin exists, and that
-- question must cost the same whatever the number of users. Admins are
-- few; this partial index holds only them.
CREATE INDEX users_admins_idx ON users (id) WHERE role = 'admin';
