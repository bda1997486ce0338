"""Durable full reindex runs (queue fan-out, counted in a storage table) and live single-blob updates.

``records`` holds the plain values, ``store`` the table, ``queue`` the work queue, ``reindex`` the run lifecycle,
``builds`` the protocol through which a deployment plans and finalizes runs into an index of their own,
``reconcile`` the stall handling and status view, ``live`` the blob/event-triggered updates. Nothing here imports
azure.functions: the Functions triggers (ingestion/functions/) only translate to these calls.
"""
