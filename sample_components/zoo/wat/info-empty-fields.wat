;; info-empty-fields (LIFE-001) -- get-info answers an empty name and an empty author.

(func $member.get-info (export "obsrvr:flowctl/processor@1.0.0#get-info") (result i32)
  (drop (call $zoo-info))
  (i32.store offset=4 (global.get $INFO) (i32.const 0))   ;; name: ""
  (i32.store offset=20 (global.get $INFO) (i32.const 0))  ;; author: ""
  (global.get $INFO))
