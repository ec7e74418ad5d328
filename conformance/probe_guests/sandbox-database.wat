;; sandbox-database.wat -- the sandbox probe guest for database (see _sandbox.wat).
;;   q  query(<data>, <metadata values>)    -> ok | err:<db-error case>
;;   x  execute(<data>, <metadata values>)  -> ok | err:<db-error case>
;;   a  is-query-allowed(<data>)            -> yes | no
(module $sandbox-database
(import "obsrvr:flowctl/database@1.0.0" "query"
  (func $query (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "execute"
  (func $execute (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "is-query-allowed"
  (func $is-query-allowed (param i32 i32) (result i32)))

;; @include _sandbox.wat

(data (i32.const 512) "\10\02\00\00\08\00\00\00")  ;; [ "database" ] at 528
(data (i32.const 528) "database")

(func $cap-call (param $op i32) (param $arg i32) (param $arg_len i32)
  (param $meta i32) (param $meta_len i32) (param $num i64)
  ;; result<query-result, db-error>: query-result holds a u64, so the error case is at +8
  (if (i32.eq (local.get $op) (i32.const 0x71))  ;; q
    (then
      (call $query (local.get $arg) (local.get $arg_len)
        (call $meta-values (local.get $meta) (local.get $meta_len)) (local.get $meta_len)
        (global.get $AREA))
      (call $answer-result (i32.const 8))))
  (if (i32.eq (local.get $op) (i32.const 0x78))  ;; x
    (then
      (call $execute (local.get $arg) (local.get $arg_len)
        (call $meta-values (local.get $meta) (local.get $meta_len)) (local.get $meta_len)
        (global.get $AREA))
      (call $answer-result (i32.const 8))))
  (if (i32.eq (local.get $op) (i32.const 0x61))  ;; a
    (then (call $answer-bool (call $is-query-allowed (local.get $arg) (local.get $arg_len))))))
)
