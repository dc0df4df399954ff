//! Examples of the inbox library; see the `examples` targets.
