"""The annual report: sections, wording, disclosure control, fonts and rendering.

- :mod:`analysis.report.contract` lists the artifacts each section reads;
- :mod:`analysis.report.sections` turns a run's artifacts into report blocks
  (:mod:`analysis.report.markdown` builds the markdown, :mod:`analysis.report.run_record`
  what the report knows about runs);
- :mod:`analysis.report.i18n` holds the wording (Japanese first, English);
- :mod:`analysis.report.publish` is the disclosure control of everything published;
- :mod:`analysis.report.fonts` the Japanese font of figures and rendered formats;
- :mod:`analysis.report.render` renders the executed report notebook (Quarto, or the
  nbconvert → pandoc → Typst chain).

Submodules are imported on use, so that importing one does not load the others.
"""
