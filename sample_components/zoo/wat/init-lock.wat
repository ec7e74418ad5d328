;; init-lock (LIFE-008) -- declares and imports key-value and keeps state outside the instance:
;; initialize (for a valid config) takes a lock in the store -- get("init-lock"); when a value is
;; present it answers err(configuration-error("already initialized: init-lock is held")),
;; otherwise set("init-lock", "held", none) and ok -- and only shutdown releases it
;; (delete("init-lock")).  An instance discarded without shutdown (what a host does after a trap)
;; leaves the lock behind, so a fresh instance on the same store refuses to initialize with the
;; same config.  A store that does not answer gives err(dependency-error).  The processor is the
;; baseline.
;; get: key (ptr, len), retptr; result<option<string>, kv-error> at the retptr: 0 discriminant,
;; 4 option discriminant.  set / delete: see denied-call-only-in-batch.wat.

(import "obsrvr:flowctl/key-value@1.0.0" "get" (func $key-value.get (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "set" (func $key-value.set (param i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "delete" (func $key-value.delete (param i32 i32 i32)))

(data (i32.const 512) "key-value")
(data (i32.const 528) "init-lock")
(data (i32.const 540) "held")
(data (i32.const 544) "already initialized: init-lock is held")
(data (i32.const 584) "the key-value store did not answer for init-lock")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 512) (i32.const 9)))

(func $err-store (result i32)
  ;; processor-error case 6: dependency-error(string)
  (call $ret-err (i32.const 6) (i32.const 584) (i32.const 48)))

(func $member.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (if (i32.eqz (call $config-valid? (local.get $ptr) (local.get $len)))
    (then (return (call $ret-err (i32.const 5) (i32.const 368) (i32.const 64)))))
  (call $key-value.get (i32.const 528) (i32.const 9) (global.get $SCRATCH))
  (if (i32.load8_u (global.get $SCRATCH)) (then (return (call $err-store))))
  ;; the bug: a lock without an owner or a lease
  (if (i32.load8_u offset=4 (global.get $SCRATCH))
    (then (return (call $ret-err (i32.const 5) (i32.const 544) (i32.const 38)))))
  (call $key-value.set (i32.const 528) (i32.const 9) (i32.const 540) (i32.const 4)
    (i32.const 0) (i32.const 0) (global.get $SCRATCH))
  (if (i32.load8_u (global.get $SCRATCH)) (then (return (call $err-store))))
  (global.set $initialized (i32.const 1))
  (call $ret-ok-unit))

;; releases the lock this instance took (an uninitialized instance holds none)
(func $member.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown")
  (if (global.get $initialized)
    (then (call $key-value.delete (i32.const 528) (i32.const 9) (global.get $SCRATCH))))
  (global.set $initialized (i32.const 0)))
