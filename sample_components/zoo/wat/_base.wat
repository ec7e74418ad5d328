;; _base.wat -- the well-behaved processor every zoo member starts from (after the kit's
;; tests/guests/wat/_runtime.wat and _processor.wat, whose functions it overrides).  Built alone
;; it is the zoo's control, `baseline`, which passes every check the zoo's members fail; a member
;; overrides one or two functions (by exporting the same name) to break exactly what it names.
;;
;;   get-info         name flowctl-zoo, version 1.0.0, supported [transaction, operation, custom],
;;                    output [custom], capabilities-required [], configuration-schema
;;                    {"type":"object","additionalProperties":false}
;;   validate-config  ok for `{}` (any whitespace): the only config valid under that schema;
;;                    anything else err(configuration-error)
;;   initialize       the same check; ok marks the instance initialized
;;   process-event    before initialize: err(configuration-error("not initialized ..."));
;;   process-batch    an event of an unsupported type is skipped (no output); an event carrying an
;;                    operation body that is not a JSON object gives err(processing-failed(...))
;;                    (the batch fails at the first one); every other event gives ONE derived
;;                    event ($out-push-derived: the input's id and timestamp, type custom, data
;;                    generic("{}")).  process-event(e) is process-batch([e]), so a batch's
;;                    outputs are the concatenation of process-event's.
;;   shutdown         forgets initialize; health-check (from _processor.wat) answers healthy
;;
;; Shared helpers for the members: the initialize gate ($not-initialized, $err-not-initialized),
;; the event checks ($check-event: 0 fine, 1 unsupported type, 2 malformed body), a JSON
;; validator ($json-object?, depth-bounded), the output buffer ($out-begin, $out-push-derived,
;; $ret-out: a "derived" event is a small generic event keeping the input's id and timestamp),
;; the baseline's processing ($zoo-process: gate, checks and one derived event per event; not
;; exported, so it survives a member overriding process-event or process-batch), $event-at,
;; get-info builders ($zoo-info, $zoo-info-with-capability) and decimal digits ($write-u32).
;;
;; Canonical ABI layout of `event` (size 160, align 8):
;;     0 id (ptr, len)          8 timestamp u64          16 source-component (ptr, len)
;;    24 event-type (u8)       32 data: event-data discriminant (u8; 0 stellar-transaction,
;;       1 stellar-ledger, 2 stellar-operation, 3 token-transfer, 4 generic), payload at 40
;;   152 metadata (ptr, len)
;;   stellar-transaction payload: operations (ptr, len) at +72 (event offset 112)
;;   stellar-operation (size 48, align 4): body (ptr, len) at +16 (event offset 56 when it is the
;;   event's data); generic(string): (ptr, len) at event offset 40
;; event-type cases: 0 transaction 1 ledger 2 operation 3 token-transfer ... 11 trade 12 custom
;;
;; Static data 160..511 (the kit reserves 64..511 for shared fragments, 512..1023 for the
;; guest's own); 2304..2319 holds the one-element capabilities list of get-info.

(data (i32.const 160) "flowctl-zoo")
(data (i32.const 176) "flowctl conformance team")
(data (i32.const 200) "a deliberately broken processor of the flowctl conformance zoo")
(data (i32.const 264) "{\"type\":\"object\",\"additionalProperties\":false}")
;; supported-event-types [transaction, operation, custom]; output-event-types [custom]
(data (i32.const 312) "\00\02\0c")
(data (i32.const 316) "\0c")
(data (i32.const 320) "not initialized: call initialize(config) first")
(data (i32.const 368) "config must be {}: the configuration-schema allows no properties")
(data (i32.const 432) "an operation body is not a JSON object")
(data (i32.const 472) "truefalsenull")
(data (i32.const 488) "{}")

(global $EVENT_SIZE i32 (i32.const 160))
(global $CAPABILITY_LIST i32 (i32.const 2304))
(global $initialized (mut i32) (i32.const 0))

;; ---------------------------------------------------------------- results and the gate

(func $not-initialized (result i32)
  (i32.eqz (global.get $initialized)))

;; err(configuration-error("not initialized: call initialize(config) first"))
(func $err-not-initialized (result i32)
  (call $ret-err (i32.const 5) (i32.const 320) (i32.const 46)))

;; err(processing-failed("an operation body is not a JSON object"))
(func $err-malformed (result i32)
  (call $ret-err (i32.const 1) (i32.const 432) (i32.const 38)))

;; ---------------------------------------------------------------- JSON (RFC 8259, depth <= 64)
;; A cursor $jp over [$jp, $je); every $j-* function returns 1 when it consumed what it names.

(global $jp (mut i32) (i32.const 0))
(global $je (mut i32) (i32.const 0))

(func $j-peek (result i32)
  (if (result i32) (i32.lt_u (global.get $jp) (global.get $je))
    (then (i32.load8_u (global.get $jp)))
    (else (i32.const -1))))

(func $j-eat (param $c i32) (result i32)
  (if (i32.eq (call $j-peek) (local.get $c))
    (then
      (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
      (return (i32.const 1))))
  (i32.const 0))

(func $j-skip-ws
  (local $c i32)
  (block $done
    (loop $next
      (local.set $c (call $j-peek))
      (br_if $done
        (i32.eqz
          (i32.or
            (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
            (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d))))))
      (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
      (br $next))))

(func $j-literal (param $ptr i32) (param $len i32) (result i32)
  (local $i i32)
  (if (i32.lt_u (i32.sub (global.get $je) (global.get $jp)) (local.get $len))
    (then (return (i32.const 0))))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.ne (i32.load8_u (i32.add (global.get $jp) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (global.set $jp (i32.add (global.get $jp) (local.get $len)))
  (i32.const 1))

;; one or more decimal digits
(func $j-digits (result i32)
  (local $n i32) (local $c i32)
  (block $done
    (loop $next
      (local.set $c (call $j-peek))
      (br_if $done (i32.gt_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 9)))
      (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
  (i32.ne (local.get $n) (i32.const 0)))

(func $j-number (result i32)
  (drop (call $j-eat (i32.const 0x2d)))  ;; -
  (if (i32.eqz (call $j-eat (i32.const 0x30)))  ;; 0, or [1-9][0-9]*
    (then (if (i32.eqz (call $j-digits)) (then (return (i32.const 0))))))
  (if (call $j-eat (i32.const 0x2e))  ;; .
    (then (if (i32.eqz (call $j-digits)) (then (return (i32.const 0))))))
  (if (i32.or (call $j-eat (i32.const 0x65)) (call $j-eat (i32.const 0x45)))  ;; e E
    (then
      (if (i32.eqz (call $j-eat (i32.const 0x2b))) (then (drop (call $j-eat (i32.const 0x2d)))))
      (if (i32.eqz (call $j-digits)) (then (return (i32.const 0))))))
  (i32.const 1))

(func $j-hex? (param $c i32) (result i32)
  (i32.or
    (i32.le_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 9))
    (i32.le_u (i32.sub (i32.or (local.get $c) (i32.const 0x20)) (i32.const 0x61)) (i32.const 5))))

(func $j-string (result i32)
  (local $c i32) (local $i i32)
  (if (i32.eqz (call $j-eat (i32.const 0x22))) (then (return (i32.const 0))))
  (loop $next
    (local.set $c (call $j-peek))
    (if (i32.lt_s (local.get $c) (i32.const 0x20)) (then (return (i32.const 0))))  ;; end, control
    (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
    (if (i32.eq (local.get $c) (i32.const 0x22)) (then (return (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 0x5c))  ;; backslash
      (then
        (local.set $c (call $j-peek))
        (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
        (if (i32.eq (local.get $c) (i32.const 0x75))  ;; \uXXXX
          (then
            (local.set $i (i32.const 0))
            (loop $hex
              (if (i32.eqz (call $j-hex? (call $j-peek))) (then (return (i32.const 0))))
              (global.set $jp (i32.add (global.get $jp) (i32.const 1)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $hex (i32.lt_u (local.get $i) (i32.const 4)))))
          (else
            ;; one of " \ / b f n r t
            (if (i32.eqz
                  (i32.or
                    (i32.or
                      (i32.or (i32.eq (local.get $c) (i32.const 0x22)) (i32.eq (local.get $c) (i32.const 0x5c)))
                      (i32.or (i32.eq (local.get $c) (i32.const 0x2f)) (i32.eq (local.get $c) (i32.const 0x62))))
                    (i32.or
                      (i32.or (i32.eq (local.get $c) (i32.const 0x66)) (i32.eq (local.get $c) (i32.const 0x6e)))
                      (i32.or (i32.eq (local.get $c) (i32.const 0x72)) (i32.eq (local.get $c) (i32.const 0x74))))))
              (then (return (i32.const 0))))))))
    (br $next))
  (i32.const 0))

;; a value and the whitespace around it; nesting deeper than 64 is refused (bounded recursion)
(func $j-value (param $depth i32) (result i32)
  (local $c i32) (local $ok i32)
  (call $j-skip-ws)
  (if (i32.gt_u (local.get $depth) (i32.const 64)) (then (return (i32.const 0))))
  (local.set $c (call $j-peek))
  (local.set $ok
    (if (result i32) (i32.eq (local.get $c) (i32.const 0x7b))
      (then (call $j-object (i32.add (local.get $depth) (i32.const 1))))
      (else (if (result i32) (i32.eq (local.get $c) (i32.const 0x5b))
        (then (call $j-array (i32.add (local.get $depth) (i32.const 1))))
        (else (if (result i32) (i32.eq (local.get $c) (i32.const 0x22))
          (then (call $j-string))
          (else (if (result i32) (i32.eq (local.get $c) (i32.const 0x74))
            (then (call $j-literal (i32.const 472) (i32.const 4)))
            (else (if (result i32) (i32.eq (local.get $c) (i32.const 0x66))
              (then (call $j-literal (i32.const 476) (i32.const 5)))
              (else (if (result i32) (i32.eq (local.get $c) (i32.const 0x6e))
                (then (call $j-literal (i32.const 481) (i32.const 4)))
                (else (call $j-number))))))))))))))
  (call $j-skip-ws)
  (local.get $ok))

(func $j-object (param $depth i32) (result i32)
  (drop (call $j-eat (i32.const 0x7b)))
  (call $j-skip-ws)
  (if (call $j-eat (i32.const 0x7d)) (then (return (i32.const 1))))
  (loop $member
    (call $j-skip-ws)
    (if (i32.eqz (call $j-string)) (then (return (i32.const 0))))
    (call $j-skip-ws)
    (if (i32.eqz (call $j-eat (i32.const 0x3a))) (then (return (i32.const 0))))
    (if (i32.eqz (call $j-value (local.get $depth))) (then (return (i32.const 0))))
    (br_if $member (call $j-eat (i32.const 0x2c))))
  (call $j-eat (i32.const 0x7d)))

(func $j-array (param $depth i32) (result i32)
  (drop (call $j-eat (i32.const 0x5b)))
  (call $j-skip-ws)
  (if (call $j-eat (i32.const 0x5d)) (then (return (i32.const 1))))
  (loop $element
    (if (i32.eqz (call $j-value (local.get $depth))) (then (return (i32.const 0))))
    (br_if $element (call $j-eat (i32.const 0x2c))))
  (call $j-eat (i32.const 0x5d)))

;; 1 if [ptr, ptr+len) is one JSON object (whitespace around it allowed)
(func $json-object? (param $ptr i32) (param $len i32) (result i32)
  (global.set $jp (local.get $ptr))
  (global.set $je (i32.add (local.get $ptr) (local.get $len)))
  (call $j-skip-ws)
  (if (i32.ne (call $j-peek) (i32.const 0x7b)) (then (return (i32.const 0))))
  (if (i32.eqz (call $j-value (i32.const 0))) (then (return (i32.const 0))))
  (i32.eq (global.get $jp) (global.get $je)))

;; 1 if the config is `{}` with any whitespace: the one value valid under the schema
(func $config-valid? (param $ptr i32) (param $len i32) (result i32)
  (global.set $jp (local.get $ptr))
  (global.set $je (i32.add (local.get $ptr) (local.get $len)))
  (call $j-skip-ws)
  (if (i32.eqz (call $j-eat (i32.const 0x7b))) (then (return (i32.const 0))))
  (call $j-skip-ws)
  (if (i32.eqz (call $j-eat (i32.const 0x7d))) (then (return (i32.const 0))))
  (call $j-skip-ws)
  (i32.eq (global.get $jp) (global.get $je)))

;; ---------------------------------------------------------------- events

(func $supported-type? (param $ev i32) (result i32)
  (local $t i32)
  (local.set $t (i32.load8_u offset=24 (local.get $ev)))
  (i32.or
    (i32.or (i32.eq (local.get $t) (i32.const 0)) (i32.eq (local.get $t) (i32.const 2)))
    (i32.eq (local.get $t) (i32.const 12))))

;; 1 if every operation body the event carries is a JSON object (no operation: 1)
(func $bodies-ok? (param $ev i32) (result i32)
  (local $disc i32) (local $op i32) (local $end i32)
  (local.set $disc (i32.load8_u offset=32 (local.get $ev)))
  (if (i32.eq (local.get $disc) (i32.const 2))  ;; stellar-operation
    (then
      (return (call $json-object?
        (i32.load offset=56 (local.get $ev)) (i32.load offset=60 (local.get $ev))))))
  (if (i32.eq (local.get $disc) (i32.const 0))  ;; stellar-transaction: every operation
    (then
      (local.set $op (i32.load offset=112 (local.get $ev)))
      (local.set $end
        (i32.add (local.get $op) (i32.mul (i32.load offset=116 (local.get $ev)) (i32.const 48))))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $op) (local.get $end)))
          (if (i32.eqz (call $json-object?
                (i32.load offset=16 (local.get $op)) (i32.load offset=20 (local.get $op))))
            (then (return (i32.const 0))))
          (local.set $op (i32.add (local.get $op) (i32.const 48)))
          (br $next)))))
  (i32.const 1))

;; 0: process it; 1: unsupported event type (skip it); 2: a malformed operation body
(func $check-event (param $ev i32) (result i32)
  (if (i32.eqz (call $supported-type? (local.get $ev))) (then (return (i32.const 1))))
  (if (i32.eqz (call $bodies-ok? (local.get $ev))) (then (return (i32.const 2))))
  (i32.const 0))

;; the address of element $i of the event list at $ptr
(func $event-at (param $ptr i32) (param $i i32) (result i32)
  (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))

;; ---------------------------------------------------------------- output buffer

(global $out-ptr (mut i32) (i32.const 0))
(global $out-len (mut i32) (i32.const 0))

;; room for $capacity events on the heap (freed by the post-return function)
(func $out-begin (param $capacity i32)
  (global.set $out-ptr
    (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 8)
      (i32.mul (local.get $capacity) (global.get $EVENT_SIZE))))
  (global.set $out-len (i32.const 0)))

;; the next output slot, counted
(func $out-next (result i32)
  (local $slot i32)
  (local.set $slot
    (i32.add (global.get $out-ptr) (i32.mul (global.get $out-len) (global.get $EVENT_SIZE))))
  (global.set $out-len (i32.add (global.get $out-len) (i32.const 1)))
  (local.get $slot))

;; write the event derived from $ev at $dst: generic("{}") of type custom from flowctl-zoo,
;; with the input's id and timestamp and no metadata
(func $write-derived (param $dst i32) (param $ev i32)
  (memory.fill (local.get $dst) (i32.const 0) (global.get $EVENT_SIZE))
  (i32.store offset=0 (local.get $dst) (i32.load offset=0 (local.get $ev)))
  (i32.store offset=4 (local.get $dst) (i32.load offset=4 (local.get $ev)))
  (i64.store offset=8 (local.get $dst) (i64.load offset=8 (local.get $ev)))
  (i32.store offset=16 (local.get $dst) (i32.const 160))
  (i32.store offset=20 (local.get $dst) (i32.const 11))
  (i32.store8 offset=24 (local.get $dst) (i32.const 12))
  (i32.store8 offset=32 (local.get $dst) (i32.const 4))
  (i32.store offset=40 (local.get $dst) (i32.const 488))
  (i32.store offset=44 (local.get $dst) (i32.const 2))
  (i32.store offset=152 (local.get $dst) (global.get $EMPTY_LIST))
  (i32.store offset=156 (local.get $dst) (i32.const 0)))

;; append the event derived from $ev; return its address (for members to alter it)
(func $out-push-derived (param $ev i32) (result i32)
  (local $slot i32)
  (local.set $slot (call $out-next))
  (call $write-derived (local.get $slot) (local.get $ev))
  (local.get $slot))

(func $ret-out (result i32)
  (call $ret-ok-list (global.get $out-ptr) (global.get $out-len)))

;; ---------------------------------------------------------------- digits

;; write $n as exactly $width decimal digits (leading zeros) at $dst
(func $write-u32 (param $dst i32) (param $n i32) (param $width i32)
  (loop $next
    (local.set $width (i32.sub (local.get $width) (i32.const 1)))
    (i32.store8 (i32.add (local.get $dst) (local.get $width))
      (i32.add (i32.const 0x30) (i32.rem_u (local.get $n) (i32.const 10))))
    (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
    (br_if $next (i32.gt_s (local.get $width) (i32.const 0)))))

;; ---------------------------------------------------------------- get-info

(func $zoo-info (result i32)
  (i32.store offset=0 (global.get $INFO) (i32.const 160))
  (i32.store offset=4 (global.get $INFO) (i32.const 11))
  (i32.store offset=8 (global.get $INFO) (i32.const 72))
  (i32.store offset=12 (global.get $INFO) (i32.const 5))
  (i32.store offset=16 (global.get $INFO) (i32.const 176))
  (i32.store offset=20 (global.get $INFO) (i32.const 24))
  (i32.store offset=24 (global.get $INFO) (i32.const 200))
  (i32.store offset=28 (global.get $INFO) (i32.const 62))
  (i32.store offset=32 (global.get $INFO) (i32.const 312))
  (i32.store offset=36 (global.get $INFO) (i32.const 3))
  (i32.store offset=40 (global.get $INFO) (i32.const 316))
  (i32.store offset=44 (global.get $INFO) (i32.const 1))
  (i32.store offset=48 (global.get $INFO) (global.get $EMPTY_LIST))
  (i32.store offset=52 (global.get $INFO) (i32.const 0))
  (i32.store8 offset=56 (global.get $INFO) (i32.const 1))
  (i32.store offset=60 (global.get $INFO) (i32.const 264))
  (i32.store offset=64 (global.get $INFO) (i32.const 46))
  (global.get $INFO))

;; $zoo-info with capabilities-required = [the string at $ptr, $len]
(func $zoo-info-with-capability (param $ptr i32) (param $len i32) (result i32)
  (drop (call $zoo-info))
  (i32.store offset=0 (global.get $CAPABILITY_LIST) (local.get $ptr))
  (i32.store offset=4 (global.get $CAPABILITY_LIST) (local.get $len))
  (i32.store offset=48 (global.get $INFO) (global.get $CAPABILITY_LIST))
  (i32.store offset=52 (global.get $INFO) (i32.const 1))
  (global.get $INFO))

;; ---------------------------------------------------------------- the processor

(func $zoo.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (call $zoo-info))

(func $zoo.validate-config (export "obsrvr:flowctl/processor@1.0.0#validate-config")
  (param $ptr i32) (param $len i32) (result i32)
  (if (call $config-valid? (local.get $ptr) (local.get $len))
    (then (return (call $ret-ok-unit))))
  (call $ret-err (i32.const 5) (i32.const 368) (i32.const 64)))

(func $zoo.initialize (export "obsrvr:flowctl/processor@1.0.0#initialize")
  (param $ptr i32) (param $len i32) (result i32)
  (if (call $config-valid? (local.get $ptr) (local.get $len))
    (then
      (global.set $initialized (i32.const 1))
      (return (call $ret-ok-unit))))
  (call $ret-err (i32.const 5) (i32.const 368) (i32.const 64)))

(func $zoo.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown")
  (global.set $initialized (i32.const 0)))

;; The baseline's processing of the list ($ptr, $len): the initialize gate, then per event
;; $check-event -- unsupported: skipped; malformed body: err(processing-failed) for the whole call;
;; otherwise one derived event.
(func $zoo-process (param $ptr i32) (param $len i32) (result i32)
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
        (then (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $zoo.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event")
  (param $ev i32) (result i32)
  (call $zoo-process (local.get $ev) (i32.const 1)))

(func $zoo.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch")
  (param $ptr i32) (param $len i32) (result i32)
  (call $zoo-process (local.get $ptr) (local.get $len)))
