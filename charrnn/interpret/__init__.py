"""Looking inside a trained model: which hidden units track what.

    units.py     unit names: kinds per cell (h, c, gates), LAYER:KIND:INDEX parsing
    traces.py    run the model over a text and record every unit's activation
    text.py      the text to inspect: a file (read lazily) or the checkpoint's validation split
    probes.py    signals computed from the text (in a string, line position, bracket depth ...)
    rank.py      Pearson r of every unit with every probe; top units; gate saturation
    analysis.py  all of it in one call (`analyse`) and its JSON form
    files.py     the files inspect-cells writes (--dump; the --html page's unit picker), atomically
    render.py    heat maps: rich Text for the terminal, a self-contained HTML page
    memory.py    inspect-memory: context usage, gradient reach, saliency (from the cells' backward)
    memory_plan.py  what inspect-memory measures on a text: options clamped, memory check, progress total
    memory_html.py  the inspect-memory page (inline SVG curves, saliency heat maps)
"""
