DROP TABLE research_reservation_notices;
DROP TABLE research_delivery_patients;
DROP TABLE research_deliveries;
DROP TABLE research_projects;
