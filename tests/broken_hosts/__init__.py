"""Deliberately broken flowctl hosts: the reference host with one enforcement switched off.

Each module is runnable (``python -m tests.broken_hosts.<name> serve ...``, the arguments of
``flowctl-host``) and exists to prove that ``flowctl-conformance host-certify`` catches the
class of defect it names (tests/integration/test_host_certify.py).
"""
