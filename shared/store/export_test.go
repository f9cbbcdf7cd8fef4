package store

// LeadItem exposes the item encoding to the in-process intake benchmark.
var LeadItem = (*Store).leadItem
