-- Group commit writes a batch as one statement outside any explicit
-- transaction (its own implicit one, committed as soon as it ends: no
-- BEGIN, no COMMIT round trip, and the tenant's sequence row is not held
-- while the application reads the result). The statement's checks (rows
-- whose expected version matched, tenants and channels found, events
-- written) must then fail inside it, so that nothing of a batch that does
-- not add up is committed: its final SELECT passes the counts it read and
-- the counts it expects to this function, which raises if they differ.
-- SQLSTATE IB001 tells the store to redo the batch one changeset at a time.
CREATE FUNCTION inbox_batch_checked(counts bigint[], wanted bigint[])
RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF counts IS DISTINCT FROM wanted THEN
        RAISE EXCEPTION 'group commit checks read %, expected % (a stale version or a missing row)',
            counts, wanted USING ERRCODE = 'IB001';
    END IF;
    RETURN counts;
END
$$;
