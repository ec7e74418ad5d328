;; call-metric -- benchmark guest (benchmarks/peers.py): process-event makes exactly one
;; guest->host import call, metrics.record-counter("bench_events_total", 1.0, []), and returns
;; ok([]).  Spliced after tests/guests/wat/_runtime.wat and _processor.wat.
;; Core signature of record-counter(name: string, value: f64, tags: list<metric-tag>):
;; (i32 name ptr, i32 name len, f64 value, i32 tags ptr, i32 tags len).

(import "obsrvr:flowctl/metrics@1.0.0" "record-counter" (func $record-counter (param i32 i32 f64 i32 i32)))

(data (i32.const 512) "bench_events_total")

(func $call-metric.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  ;; an empty tags list: any aligned in-bounds pointer with length 0
  (call $record-counter (i32.const 512) (i32.const 18) (f64.const 1) (global.get $EMPTY_LIST) (i32.const 0))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
