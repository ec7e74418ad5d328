;; sql-denial-traps (SBX-003) -- declares and imports database; for every supported event it
;; queries `SELECT api_key FROM credentials` and executes `unreachable` when the host answers err
;; (which a sandbox whose allowed_tables do not list credentials always does); were the query
;; answered, the event would give the baseline's derived event.
;; query: sql (ptr, len), params (ptr, len), retptr; result<query-result, db-error> at the
;; retptr: 0 discriminant.

(import "obsrvr:flowctl/database@1.0.0" "query" (func $database.query (param i32 i32 i32 i32 i32)))

(data (i32.const 512) "SELECT api_key FROM credentials")
(data (i32.const 544) "database")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 544) (i32.const 8)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (call $database.query
            (i32.const 512) (i32.const 31) (global.get $EMPTY_LIST) (i32.const 0)
            (global.get $SCRATCH))
          (if (i32.load8_u (global.get $SCRATCH)) (then unreachable))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
