-- A time-based event the scheduler cannot announce (its transaction fails with an error the
-- database answered: a row that breaks a constraint of the feed or an outbox, a bug) is set aside
-- instead of being retried for ever: before this, one such row made its kind's claim fail on every
-- pass, and the pass stopped there, so no tenant heard of any deadline of that kind or the kinds
-- scanned after it. The occurrence row is recorded with the error and nothing is announced; an
-- operator who has fixed the cause deletes the row and the next pass announces the event.

ALTER TABLE time_event_occurrences ADD COLUMN set_aside text;
COMMENT ON COLUMN time_event_occurrences.set_aside IS
  'NULL when announced; else the error that kept the scheduler from announcing it (nothing was announced; delete the row to retry)';
