"""The django.tasks tasks: thin, each hands a Job id to the job runner (content/library/jobs.py),
which records state, progress and the outcome on the Job row. Arguments are JSON only.

Workers: ``manage.py db_worker`` (TASKS_BACKEND=db) or
``manage.py rqworker --job-class django_tasks_rq.Job`` (TASKS_BACKEND=rq).
"""
from __future__ import annotations

from django.tasks import task

from content.library.jobs import job_run


@task
def job_task(job_id: int) -> None:
    """Run the Job ``job_id`` (any kind) to its end; its outcome is on the Job row."""
    job_run(job_id)
