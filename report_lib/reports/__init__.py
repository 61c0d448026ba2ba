"""From facts to reports: facts, prompts, jobs, the offline writer, the fact check, charts."""
