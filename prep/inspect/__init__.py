"""`mmprep inspect` and `mmprep render`: how good a store's keypoints are, and what they look like.

metrics (each video's figures) and flags (thresholds, order) make the report (inspect.json); skeleton says what
of a layout is drawn, drawing draws one frame, source reads the extracted video's frames back, clip writes a
video's skeleton as .mp4 or .gif, strip the page's thumbnails, plots and page the HTML page. Nothing here needs
MediaPipe or OpenCV.
"""
