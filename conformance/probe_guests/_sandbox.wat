;; _sandbox.wat -- the common part of the sandbox probe guests (sandbox-http, sandbox-database,
;; sandbox-key-value): spliced into each at its include line, after its imports.
;; The capability part defines ($cap-call (param $op i32) (param $arg i32) (param $arg_len i32)
;; (param $meta i32) (param $meta_len i32) (param $num i64)), which performs one capability call
;; and leaves its answer in $ans/$ans_len through $answer-ok / $answer-err / $answer-bool.
;;
;; A probe is one event: source-component's first byte names the call (per capability part),
;; data generic(string) is its main argument (URL, SQL, key or prefix), metadata values are the
;; further string arguments (SQL parameters, the value to set), the timestamp the numeric one
;; (increment's delta as two's complement, expire's ttl).  Every event is answered by one event
;; with the input's id and timestamp, type custom, source "sandbox-probe" and data generic(answer):
;; "ok", "yes" / "no" (a permission question), "err:<case index>" (the WIT variant's case number),
;; "bad-probe" (not a generic event) or "unknown-op".
;;
;; Layout: static data 64..1023, the return area at 1024, the import result area at 1536,
;; processor-info at 2048, the heap from 4096 (reset after every call).

(memory (export "memory") 1)

(global $HEAP_BASE i32 (i32.const 4096))
(global $heap (mut i32) (i32.const 4096))
(global $RET i32 (i32.const 1024))
(global $AREA i32 (i32.const 1536))
(global $INFO i32 (i32.const 2048))
(global $EMPTY i32 (i32.const 1000))
(global $ans (mut i32) (i32.const 0))
(global $ans_len (mut i32) (i32.const 0))

(data (i32.const 64) "flowctl-sandbox-probe")      ;; 21
(data (i32.const 88) "1.0.0")                      ;; 5
(data (i32.const 96) "flowctl conformance")        ;; 19
(data (i32.const 120) "performs each probe as a real capability call and answers what it got")  ;; 70
(data (i32.const 192) "\0c")                       ;; [custom]
(data (i32.const 200) "sandbox-probe")             ;; 13
(data (i32.const 216) "ok")                        ;; 2
(data (i32.const 220) "yes")                       ;; 3
(data (i32.const 224) "no")                        ;; 2
(data (i32.const 228) "bad-probe")                 ;; 9
(data (i32.const 240) "unknown-op")                ;; 10
(data (i32.const 256) "GET")                       ;; 3

(func $cabi_realloc (export "cabi_realloc")
  (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
  (local $ptr i64) (local $end i64) (local $pages i64)
  (if (i32.eqz (local.get $align)) (then (local.set $align (i32.const 1))))
  (local.set $ptr
    (i64.and
      (i64.add (i64.extend_i32_u (global.get $heap))
               (i64.extend_i32_u (i32.sub (local.get $align) (i32.const 1))))
      (i64.sub (i64.const 0) (i64.extend_i32_u (local.get $align)))))
  (local.set $end (i64.add (local.get $ptr) (i64.extend_i32_u (local.get $new_size))))
  (if (i64.gt_u (local.get $end) (i64.const 0x1_0000_0000)) (then unreachable))
  (local.set $pages (i64.shr_u (i64.add (local.get $end) (i64.const 0xffff)) (i64.const 16)))
  (if (i64.gt_u (local.get $pages) (i64.extend_i32_u (memory.size)))
    (then
      (if (i32.eq
            (memory.grow (i32.wrap_i64 (i64.sub (local.get $pages) (i64.extend_i32_u (memory.size)))))
            (i32.const -1))
        (then unreachable))))
  (global.set $heap (i32.wrap_i64 (local.get $end)))
  (if (i32.and (i32.ne (local.get $old) (i32.const 0)) (i32.ne (local.get $old_size) (i32.const 0)))
    (then
      (memory.copy
        (i32.wrap_i64 (local.get $ptr))
        (local.get $old)
        (select (local.get $old_size) (local.get $new_size)
                (i32.lt_u (local.get $old_size) (local.get $new_size))))))
  (i32.wrap_i64 (local.get $ptr)))

(func $heap-reset (global.set $heap (global.get $HEAP_BASE)))

;; ---------------------------------------------------------------- answers

(func $answer (param $ptr i32) (param $len i32)
  (global.set $ans (local.get $ptr))
  (global.set $ans_len (local.get $len)))

(func $answer-ok (call $answer (i32.const 216) (i32.const 2)))

(func $answer-bool (param $yes i32)
  (if (local.get $yes)
    (then (call $answer (i32.const 220) (i32.const 3)))
    (else (call $answer (i32.const 224) (i32.const 2)))))

;; "err:<n>" for the case number $case (0..99)
(func $answer-err (param $case i32)
  (local $p i32)
  (local.set $p (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 6)))
  (i32.store8 offset=0 (local.get $p) (i32.const 0x65))  ;; e
  (i32.store8 offset=1 (local.get $p) (i32.const 0x72))  ;; r
  (i32.store8 offset=2 (local.get $p) (i32.const 0x72))  ;; r
  (i32.store8 offset=3 (local.get $p) (i32.const 0x3a))  ;; :
  (if (i32.lt_u (local.get $case) (i32.const 10))
    (then
      (i32.store8 offset=4 (local.get $p) (i32.add (i32.const 0x30) (local.get $case)))
      (call $answer (local.get $p) (i32.const 5)))
    (else
      (i32.store8 offset=4 (local.get $p)
        (i32.add (i32.const 0x30) (i32.div_u (local.get $case) (i32.const 10))))
      (i32.store8 offset=5 (local.get $p)
        (i32.add (i32.const 0x30) (i32.rem_u (local.get $case) (i32.const 10))))
      (call $answer (local.get $p) (i32.const 6)))))

;; the result at $AREA: ok, or err with its case (a u8) at $AREA + $offset
(func $answer-result (param $offset i32)
  (if (i32.eqz (i32.load8_u (global.get $AREA)))
    (then (call $answer-ok))
    (else (call $answer-err (i32.load8_u (i32.add (global.get $AREA) (local.get $offset)))))))

;; the metadata values of the tuple list ($meta, $n) as a list<string> on the heap
(func $meta-values (param $meta i32) (param $n i32) (result i32)
  (local $buf i32) (local $i i32)
  (local.set $buf
    (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 4)
      (i32.mul (local.get $n) (i32.const 8))))
  (block $done
    (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i64.store
        (i32.add (local.get $buf) (i32.mul (local.get $i) (i32.const 8)))
        (i64.load offset=8 (i32.add (local.get $meta) (i32.mul (local.get $i) (i32.const 16)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
  (local.get $buf))

;; ---------------------------------------------------------------- one probe

;; perform the probe event at $ev and write its answer event at $dst
(func $probe-one (param $ev i32) (param $dst i32)
  (local $op i32)
  (call $answer (i32.const 228) (i32.const 9))
  (if (i32.eq (i32.load8_u offset=32 (local.get $ev)) (i32.const 4))  ;; generic(string)
    (then
      (if (i32.load offset=20 (local.get $ev))
        (then (local.set $op (i32.load8_u (i32.load offset=16 (local.get $ev))))))
      (call $answer (i32.const 240) (i32.const 10))
      (call $cap-call
        (local.get $op)
        (i32.load offset=40 (local.get $ev)) (i32.load offset=44 (local.get $ev))
        (i32.load offset=152 (local.get $ev)) (i32.load offset=156 (local.get $ev))
        (i64.load offset=8 (local.get $ev)))))
  (i32.store offset=0 (local.get $dst) (i32.load offset=0 (local.get $ev)))
  (i32.store offset=4 (local.get $dst) (i32.load offset=4 (local.get $ev)))
  (i64.store offset=8 (local.get $dst) (i64.load offset=8 (local.get $ev)))
  (i32.store offset=16 (local.get $dst) (i32.const 200))
  (i32.store offset=20 (local.get $dst) (i32.const 13))
  (i32.store8 offset=24 (local.get $dst) (i32.const 12))  ;; custom
  (i32.store8 offset=32 (local.get $dst) (i32.const 4))   ;; generic
  (i32.store offset=40 (local.get $dst) (global.get $ans))
  (i32.store offset=44 (local.get $dst) (global.get $ans_len))
  (i32.store offset=152 (local.get $dst) (global.get $EMPTY))
  (i32.store offset=156 (local.get $dst) (i32.const 0)))

(func $ret-ok-list (param $ptr i32) (param $len i32) (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (i32.store offset=4 (global.get $RET) (local.get $ptr))
  (i32.store offset=8 (global.get $RET) (local.get $len))
  (global.get $RET))

(func $ret-ok-unit (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (global.get $RET))

;; ---------------------------------------------------------------- the processor

(func (export "obsrvr:flowctl/processor@1.0.0#process-batch")
  (param $ptr i32) (param $len i32) (result i32)
  (local $out i32) (local $i i32)
  (local.set $out
    (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 8)
      (i32.mul (local.get $len) (i32.const 160))))
  (block $done
    (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (call $probe-one
        (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const 160)))
        (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 160))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
  (call $ret-ok-list (local.get $out) (local.get $len)))

(func (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (local $out i32)
  (local.set $out (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 160)))
  (call $probe-one (local.get $ev) (local.get $out))
  (call $ret-ok-list (local.get $out) (i32.const 1)))

(func (export "obsrvr:flowctl/processor@1.0.0#initialize") (param i32 i32) (result i32)
  (call $ret-ok-unit))

(func (export "obsrvr:flowctl/processor@1.0.0#validate-config") (param i32 i32) (result i32)
  (call $ret-ok-unit))

(func (export "obsrvr:flowctl/processor@1.0.0#shutdown"))

;; processor-info (size 68): name, version, author, description, supported [custom],
;; output [custom], capabilities-required [$CAP_NAME], configuration-schema none
(func (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (i32.store offset=0 (global.get $INFO) (i32.const 64))
  (i32.store offset=4 (global.get $INFO) (i32.const 21))
  (i32.store offset=8 (global.get $INFO) (i32.const 88))
  (i32.store offset=12 (global.get $INFO) (i32.const 5))
  (i32.store offset=16 (global.get $INFO) (i32.const 96))
  (i32.store offset=20 (global.get $INFO) (i32.const 19))
  (i32.store offset=24 (global.get $INFO) (i32.const 120))
  (i32.store offset=28 (global.get $INFO) (i32.const 70))
  (i32.store offset=32 (global.get $INFO) (i32.const 192))
  (i32.store offset=36 (global.get $INFO) (i32.const 1))
  (i32.store offset=40 (global.get $INFO) (i32.const 192))
  (i32.store offset=44 (global.get $INFO) (i32.const 1))
  (i32.store offset=48 (global.get $INFO) (i32.const 512))  ;; the capability part's list
  (i32.store offset=52 (global.get $INFO) (i32.const 1))
  (i32.store8 offset=56 (global.get $INFO) (i32.const 0))
  (global.get $INFO))

;; health-status: healthy, no message, no details, timestamp 0
(func (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  (i32.store8 offset=0 (global.get $RET) (i32.const 0))
  (i32.store8 offset=8 (global.get $RET) (i32.const 0))
  (i32.store8 offset=12 (global.get $RET) (i32.const 0))
  (i32.store offset=24 (global.get $RET) (global.get $EMPTY))
  (i32.store offset=28 (global.get $RET) (i32.const 0))
  (i64.store offset=32 (global.get $RET) (i64.const 0))
  (global.get $RET))

(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#process-event") (param i32)
  (call $heap-reset))

(func (export "cabi_post_obsrvr:flowctl/processor@1.0.0#process-batch") (param i32)
  (call $heap-reset))
