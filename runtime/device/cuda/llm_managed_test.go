package cuda

// prefetchErr is the managed-mode prefetch failure of m, if any.
func prefetchErr(m *Memory) error { return m.llm.managed.prefetchErr }
