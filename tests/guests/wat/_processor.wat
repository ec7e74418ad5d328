;; _processor.wat -- default implementation of `obsrvr:flowctl/processor@1.0.0` (a no-op
;; processor), shared by every processor guest.  A guest fragment that exports one of the names
;; below replaces the default (see _runtime.wat and tests/guests/build.py).
;;
;; Canonical ABI layouts used here (offsets in bytes):
;;   result<list<event>, processor-error>, result<_, processor-error>    (size 16, align 4)
;;     0: discriminant (u8: 0 ok, 1 err)
;;     ok list:  4 ptr, 8 len
;;     err:      4 processor-error case (u8), 8 string ptr, 12 string len
;;   processor-error cases: 0 invalid-event(s) 1 processing-failed(s) 2 timeout
;;     3 resource-exhausted 4 permission-denied(s) 5 configuration-error(s) 6 dependency-error(s)
;;     7 unknown-error(s)
;;   processor-info (size 68, align 4)
;;     0 name, 8 version, 16 author, 24 description (ptr, len each),
;;     32 supported-event-types, 40 output-event-types (list<enum u8>), 48 capabilities-required,
;;     56 configuration-schema option<string>: 56 discriminant, 60 ptr, 64 len
;;   result<health-status, processor-error> (size 40, align 8)
;;     0 discriminant; ok health-status at 8: 8 status (u8), 12 message option<string>
;;     (12 discriminant, 16 ptr, 20 len), 24 details (ptr, len), 32 timestamp (u64)

(data (i32.const 64) "noop")
(data (i32.const 72) "1.0.0")
(data (i32.const 80) "flowctl conformance tests")
(data (i32.const 112) "hand-written WAT test guest")
;; list<event-type> [transaction]: one u8 element, case 0
(data (i32.const 144) "\00")
;; the (ptr) of every empty list returned: any in-bounds address aligned to 8 (the largest
;; alignment of a list element here: `event` holds a u64)
(global $EMPTY_LIST i32 (i32.const 152))

(func $ret-ok-list (param $ptr i32) (param $len i32) (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (i32.store offset=4 (global.get $RET) (local.get $ptr))
  (i32.store offset=8 (global.get $RET) (local.get $len))
  (global.get $RET))

(func $ret-ok-unit (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (global.get $RET))

;; err(processor-error) for both result<list<event>, processor-error> and
;; result<_, processor-error>; $str_ptr/$str_len are ignored by the cases without payload.
(func $ret-err (param $case i32) (param $str_ptr i32) (param $str_len i32) (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 1))
  (i32.store8 offset=4 (global.get $RET) (local.get $case))
  (i32.store offset=8 (global.get $RET) (local.get $str_ptr))
  (i32.store offset=12 (global.get $RET) (local.get $str_len))
  (global.get $RET))

(func $default-info (result i32)
  (i32.store offset=0 (global.get $INFO) (i32.const 64))
  (i32.store offset=4 (global.get $INFO) (i32.const 4))
  (i32.store offset=8 (global.get $INFO) (i32.const 72))
  (i32.store offset=12 (global.get $INFO) (i32.const 5))
  (i32.store offset=16 (global.get $INFO) (i32.const 80))
  (i32.store offset=20 (global.get $INFO) (i32.const 25))
  (i32.store offset=24 (global.get $INFO) (i32.const 112))
  (i32.store offset=28 (global.get $INFO) (i32.const 27))
  (i32.store offset=32 (global.get $INFO) (i32.const 144))
  (i32.store offset=36 (global.get $INFO) (i32.const 1))
  (i32.store offset=40 (global.get $INFO) (i32.const 144))
  (i32.store offset=44 (global.get $INFO) (i32.const 1))
  (i32.store offset=48 (global.get $INFO) (global.get $EMPTY_LIST))
  (i32.store offset=52 (global.get $INFO) (i32.const 0))
  (i32.store8 offset=56 (global.get $INFO) (i32.const 0))
  (global.get $INFO))

(func $healthy (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (i32.store8 offset=8 (global.get $RET) (i32.const 0))
  (i32.store8 offset=12 (global.get $RET) (i32.const 0))
  (i32.store offset=24 (global.get $RET) (global.get $EMPTY_LIST))
  (i32.store offset=28 (global.get $RET) (i32.const 0))
  (i64.store offset=32 (global.get $RET) (i64.const 0))
  (global.get $RET))

(func $default.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event")
  (param $event i32) (result i32)
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))

(func $default.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))

(func $default.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-ok-unit))

(func $default.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (call $ret-ok-unit))

(func $default.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown"))

(func $default.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $default-info))

(func $default.health-check (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  (call $healthy))

;; Post-return functions: the heap holds only the arguments of the call that just ended.
(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#process-event") (param i32)
  (call $heap-reset))
(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#process-batch") (param i32)
  (call $heap-reset))
(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#initialize") (param i32)
  (call $heap-reset))
(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#validate-config") (param i32)
  (call $heap-reset))
