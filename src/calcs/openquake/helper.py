"""calcweb's helper, run with the OpenQuake engine's own Python and the isolation env of the
calculation it works on. It does what the engine's WebUI (openquake/server/views.py) does in
its own process, and prints one JSON object on stdout.

    helper.py outputs JOB_ID            the job's outputs as views.calc_results lists them
    helper.py export DATASTORE KEY FMT DIR   views.calc_result's export: the files written
    helper.py extract DATASTORE WHAT NPZ     views.extract: the npz of extract(ds, WHAT)
    helper.py check JOB_INI             oq check_input, answered as views.validate_job
"""
import json
import os
import sys


def outputs(job_id):
    from openquake.baselib.general import groupby
    from openquake.commonlib import logs
    from openquake.calculators.export import export
    # Every format of every key, as calc_results groups them; 'txt' is dropped there too.
    formats = groupby(export, lambda oe: oe[0], lambda oes: [e for o, e in oes])
    rows = []
    for out in logs.dbcmd('get_outputs', int(job_id)):
        outtypes = [f for f in formats.get(out.ds_key, []) if f != 'txt']
        if outtypes:  # non-exportable outputs are not shown
            rows.append(dict(name=out.display_name, type=out.ds_key,
                             outtypes=outtypes, size_mb=out.size_mb))
    return rows


def export_(path, key, fmt, target):
    from openquake.commonlib import datastore
    from openquake.calculators.export import export
    # As engine.export.core.export_from_db, which the WebUI calls.
    export.from_db = True
    os.makedirs(target, exist_ok=True)
    if (key, fmt) not in export:
        return dict(files=[])
    with datastore.read(path) as dstore:
        dstore.export_dir = target
        return dict(files=[os.path.abspath(f) for f in export((key, fmt), dstore)])


def extract(path, what, npz):
    from openquake.baselib import hdf5
    from openquake.commonlib import datastore
    from openquake.calculators.extract import extract as extract_
    try:
        with datastore.read(path) as ds:
            obj = extract_(ds, what)
            hdf5.save_npz(obj, npz)
    except Exception as exc:
        return dict(error='%s: %s' % (exc.__class__.__name__, exc))
    return dict(npz=npz)


def check(job_ini):
    # views.validate_job runs base.calculators(oq, calc_id=None), which fails in 3.26.2 for
    # every input ('NoneType' object is not subscriptable); this is `oq check_input`, which
    # records a job: the caller gives it a throwaway database and data dir.
    from unittest.mock import patch
    from openquake.commonlib import logs
    from openquake.engine import engine
    logs.dbcmd('upgrade_db')
    try:
        with patch.dict(os.environ, {'OQ_CHECK_INPUT': '1'}):
            engine.run_jobs(engine.create_jobs([job_ini]))
    except Exception as exc:
        return dict(error_msg=str(exc), error_line=None, valid=False)
    return dict(error_msg=None, error_line=None, valid=True)


COMMANDS = dict(outputs=outputs, export=export_, extract=extract, check=check)

if __name__ == '__main__':
    result = COMMANDS[sys.argv[1]](*sys.argv[2:])
    # The engine may print on stdout; the answer is the last line.
    sys.stdout.write('\n' + json.dumps(result) + '\n')
