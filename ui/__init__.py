"""Streamlit helpers shared by app.py and the pages (the only package besides them that imports streamlit)."""
