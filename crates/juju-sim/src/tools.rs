//! Hook tools: protocol and dispatch (owned by the tools/Pebble work).
