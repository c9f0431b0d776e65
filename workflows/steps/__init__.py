"""The retrain and monitor steps: plain typed functions, one entry point each.

Every step takes plain parameters (strings and numbers, as Argo passes them), resolves its settings at
entry (:func:`workflows.steps.context.step_settings`) and talks to S3 / Kafka / the registry itself, so
it runs the same in a pod, in the local executor and in a test. The Hera templates in
:mod:`workflows.retrain` point at thin wrappers in :mod:`workflows.entrypoints`, which only map these
functions' results onto Argo output parameters and artifacts.
"""
