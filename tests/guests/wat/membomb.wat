;; membomb -- grows memory one page at a time until memory.grow fails (-1); then process-event
;; traps (`unreachable`) and process-batch returns err(resource-exhausted); health-check reports
;; memory.size (pages) as its timestamp.

(func $grow-until-refused
  (loop $grow
    (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))))

(func $membomb.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (call $grow-until-refused)
  unreachable)

(func $membomb.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (call $grow-until-refused)
  ;; processor-error case 3: resource-exhausted (no payload)
  (call $ret-err (i32.const 3) (i32.const 0) (i32.const 0)))

;; health-check reports the current memory size in pages as its timestamp, so tests can see how
;; far the bomb got under a limit.
(func $membomb.health-check (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  (drop (call $healthy))
  (i64.store offset=32 (global.get $RET) (i64.extend_i32_u (memory.size)))
  (global.get $RET))
