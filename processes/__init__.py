"""The bundled BPMN processes and form-js forms: data read as package resources, not code."""
