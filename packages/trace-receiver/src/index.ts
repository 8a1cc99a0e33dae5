// Public API of @sextant/trace-receiver. Nothing is exported yet.
export {};
