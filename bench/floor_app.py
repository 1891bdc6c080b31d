"""The floor: a bare Streamlit app showing one 50-row dataframe, and nothing else.

No page of ours can show its first rows sooner than Streamlit itself shows any table on the same
machine, so the benchmark measures this app in the same run, the same way, as a row of its own.
"""

import numpy as np
import pandas as pd
import streamlit as st

rows = np.arange(50)
st.dataframe(pd.DataFrame({"run": [f"run-{i:02d}" for i in rows], "step": rows, "loss": 1 / (rows + 1)}))
