// Public API of @sextant/kube-metadata. Nothing is exported yet.
export {};
