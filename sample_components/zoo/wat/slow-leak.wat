;; slow-leak (LIM-006) -- leaks 4 KiB for every supported, well-formed event it processes
;; (process-event and process-batch alike): a permanent allocation that nothing frees, taken from
;; fresh pages at the top of linear memory -- one memory.grow of one page per 16 events (the
;; first event of each group of 16 grows).  Memory therefore grows with the number of events
;; processed: after N events linear memory holds at least 1 + ceil(N / 16) pages, whatever the
;; size of the events (the bump heap of each call may later run into leaked pages, but never
;; gives memory back).  When memory.grow is refused it answers err(resource-exhausted); until
;; then its answers are the baseline's.  Under the default 256 pages that takes about 4,000
;; events.

(global $leaked (mut i32) (i32.const 0))  ;; events leaked for so far

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
          ;; the leak: 4 KiB per event, a new 64 KiB page for every 16th
          (if (i32.eqz (i32.and (global.get $leaked) (i32.const 15)))
            (then
              (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
                ;; processor-error case 3: resource-exhausted (no payload)
                (then (return (call $ret-err (i32.const 3) (i32.const 0) (i32.const 0)))))))
          (global.set $leaked (i32.add (global.get $leaked) (i32.const 1)))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
