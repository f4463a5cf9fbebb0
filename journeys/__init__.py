"""Journeys: Journey, JourneyVersion, Enrollment, the engine and its scheduler."""
