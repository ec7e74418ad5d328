;; traps-in-shutdown (LIFE-007) -- shutdown executes `unreachable` (a flush that "panics").

(func $member.shutdown (export "obsrvr:flowctl/processor@1.0.0#shutdown")
  unreachable)
