;; denied-call-only-in-batch (SBX-003) -- declares and imports key-value; process-batch (only it)
;; records each call with set("last-batch", "zoo-batch-marker", none) and executes `unreachable`
;; when the host answers err -- e.g. under a grant whose max_value_bytes is below the 16-byte
;; value -- instead of handling the denial as a value.  process-event never calls key-value, so
;; the defect shows only in batches.  Under a grant that allows the write, answers are the
;; baseline's.  shutdown deletes the key (ignoring the answer), which no grant refuses.
;; set: key (ptr, len), value (ptr, len), ttl option<u32> (disc, value), retptr;
;; delete: key (ptr, len), retptr; result<_, kv-error> at the retptr: 0 discriminant.

(import "obsrvr:flowctl/key-value@1.0.0" "set" (func $key-value.set (param i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "delete" (func $key-value.delete (param i32 i32 i32)))

(data (i32.const 512) "key-value")
(data (i32.const 528) "last-batch")
(data (i32.const 544) "zoo-batch-marker")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 512) (i32.const 9)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $key-value.set (i32.const 528) (i32.const 10) (i32.const 544) (i32.const 16)
    (i32.const 0) (i32.const 0) (global.get $SCRATCH))
  ;; a denial is an answer; this component treats it as impossible
  (if (i32.load8_u (global.get $SCRATCH)) (then unreachable))
  (call $zoo-process (local.get $ptr) (local.get $len)))

(func $member.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown")
  (call $key-value.delete (i32.const 528) (i32.const 10) (global.get $SCRATCH))
  (global.set $initialized (i32.const 0)))
