package logagent

// AllNamespaces in Rule.Namespaces collects the standard output of every
// namespace (a cluster rule, which only platform administrators make).
const AllNamespaces = "*"
